import { createHash } from 'node:crypto';
import { configure } from 'safe-stable-stringify';
import type { AuditRecord } from './record.js';

// Keys sorted at every level, no undefined values: one byte string per record content, so
// the writer and `verdict audit verify` hash exactly the same thing.
const canonical = configure({ deterministic: true, bigint: false, circularValue: Error });

/**
 * The hash chain of the audit trail: each record carries `seq`, the `prev_hash` of the
 * record before it, and `hash` = SHA-256 over its canonical JSON without `hash`.
 */
export function recordHash(record: AuditRecord): string {
  const { hash: _omit, ...rest } = record;
  return createHash('sha256').update(canonical(rest) ?? '').digest('hex');
}

export interface ChainHead {
  readonly seq: number;
  readonly hash: string | null;
}

/**
 * Links a record to the chain: the record with `seq`, `prev_hash` and `hash`, and its JSON
 * line (the canonical text that was hashed, with `hash` appended: serialized once).
 */
export function link(record: AuditRecord, head: ChainHead): { record: AuditRecord; json: string } {
  const linked: AuditRecord = { ...record, seq: head.seq + 1, prev_hash: head.hash };
  const text = canonical(linked) ?? '{}';
  const hash = createHash('sha256').update(text).digest('hex');
  linked.hash = hash;
  return { record: linked, json: `${text.slice(0, -1)},"hash":"${hash}"}` };
}
