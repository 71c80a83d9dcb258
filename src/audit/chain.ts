import { createHash } from 'node:crypto';
import type { AuditRecord } from './record.js';

// Characters JSON may carry raw but line-based tools read as line ends or controls: DEL,
// C1 controls (U+0085 NEL among them), U+2028 and U+2029. Attacker input (paths, claims)
// reaches records, so these are always written as \u escapes: one record, one line.
const LINE_BREAKERS = /[\u007f-\u009f\u2028\u2029]/g;
const escapeChar = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** JSON.stringify of a string, with the characters above escaped. */
function jsonString(s: string): string {
  const text = JSON.stringify(s);
  LINE_BREAKERS.lastIndex = 0;
  return LINE_BREAKERS.test(text) ? text.replace(LINE_BREAKERS, escapeChar) : text;
}

/**
 * Canonical JSON: keys sorted at every level, undefined values left out, everything else as
 * JSON.stringify writes it, except that DEL, C1 controls, U+2028 and U+2029 are escaped. One
 * byte string per record content, so the writer and `verdict audit verify` hash exactly the
 * same thing. (Hand-written because records are small and flat; a general library cost 25 µs
 * per record, this ~3.)
 */
export function canonical(v: unknown): string | undefined {
  if (v === undefined || typeof v === 'function') return undefined;
  if (typeof v === 'string') return jsonString(v);
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => canonical(x) ?? 'null').join(',')}]`;
  const o = v as Record<string, unknown>;
  let out = '{';
  for (const k of Object.keys(o).sort()) {
    const c = canonical(o[k]);
    if (c === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${jsonString(k)}:${c}`;
  }
  return `${out}}`;
}

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
 * Links a record to the chain: sets `seq`, `prev_hash` and `hash` on it (it takes the record
 * over: copying a 25-key record costs more than hashing it) and returns its JSON line (the
 * canonical text that was hashed, with `hash` appended: serialized once).
 */
export function link(record: AuditRecord, head: ChainHead): { record: AuditRecord; json: string } {
  const linked = record;
  delete linked.hash;
  linked.seq = head.seq + 1;
  linked.prev_hash = head.hash;
  const text = canonical(linked) ?? '{}';
  const hash = createHash('sha256').update(text).digest('hex');
  linked.hash = hash;
  return { record: linked, json: `${text.slice(0, -1)},"hash":"${hash}"}` };
}
