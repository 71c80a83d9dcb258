import { compactVerify, type CryptoKey, type KeyObject } from 'jose';
import { recordHash } from './chain.js';
import type { AuditRecord } from './record.js';

export interface VerifyProblem {
  readonly file: string;
  readonly line: number;
  /** The first record that is wrong: changed, removed, inserted or reordered. */
  readonly seq: number | undefined;
  readonly message: string;
}

export interface VerifyResult {
  readonly records: number;
  readonly firstSeq: number | undefined;
  readonly lastSeq: number | undefined;
  readonly checkpoints: number;
  readonly signaturesChecked: boolean;
  /** Checkpoints without a signature (no signing key configured when they were written). */
  readonly unsignedCheckpoints: number;
  readonly problem: VerifyProblem | undefined;
  /**
   * `live` only: records after the last checkpoint, complete and chained but not sealed yet —
   * a running server's file. Without `live` such a tail is a problem ("unsealed tail").
   */
  readonly openTail?: { readonly records: number; readonly firstSeq: number; readonly lastSeq: number; readonly partialLine: boolean } | undefined;
}

export interface VerifyOptions {
  /** The file is being written by a running server: an unsealed tail is open, not cut off. */
  readonly live?: boolean;
}

type Key = CryptoKey | KeyObject | Uint8Array;

/**
 * Walks an audit trail (files in order, as rotated) and stops at the first record that
 * breaks the hash chain, or at an unsealed tail. With a key, every checkpoint's JWS must
 * verify and name the hash the chain has at its seq.
 */
export async function verifyTrail(files: readonly { name: string; text: string }[], key?: Key, options: VerifyOptions = {}): Promise<VerifyResult> {
  const hashes = new Map<number, string>();
  let prev: { seq: number; hash: string } | undefined;
  let records = 0;
  let checkpoints = 0;
  let unsigned = 0;
  let partialLine = false;
  let sealedSeq: number | undefined;
  let sinceCheckpoint = 0;
  let firstSeq: number | undefined;
  let last: AuditRecord | undefined;
  let lastAt = { file: files[0]?.name ?? '', line: 0 };
  const fail = (file: string, line: number, seq: number | undefined, message: string): VerifyResult => ({ records, firstSeq, lastSeq: prev?.seq, checkpoints, signaturesChecked: key !== undefined, unsignedCheckpoints: unsigned, problem: { file, line, seq, message } });

  for (const f of files) {
    const lines = f.text.split('\n');
    const complete = f.text.endsWith('\n') || f.text === '';
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!;
      if (raw === '') continue;
      const lineNo = i + 1;
      const expected = prev ? prev.seq + 1 : undefined;
      if (i === lines.length - 1 && !complete) {
        // A running server may be in the middle of writing its last line.
        if (options.live && f === files.at(-1)) {
          partialLine = true;
          continue;
        }
        return fail(f.name, lineNo, expected, 'truncated tail: the last line is incomplete');
      }
      let r: AuditRecord;
      try {
        r = JSON.parse(raw) as AuditRecord;
      } catch {
        return fail(f.name, lineNo, expected, 'not a JSON record: changed');
      }
      const seq = typeof r.seq === 'number' ? r.seq : undefined;
      if (seq === undefined || typeof r.hash !== 'string') return fail(f.name, lineNo, expected, 'record without seq/hash: inserted');
      if (recordHash(r) !== r.hash) return fail(f.name, lineNo, seq, 'record content does not match its hash: changed');
      if (prev) {
        if (seq > prev.seq + 1) {
          const want = prev.seq + 1;
          const later = lines.slice(i + 1).some((l) => {
            try {
              return (JSON.parse(l) as AuditRecord).seq === want;
            } catch {
              return false;
            }
          });
          return fail(f.name, lineNo, want, later ? `seq ${want} comes later: reordered` : `records ${want}…${seq - 1} are missing: removed`);
        }
        if (seq <= prev.seq) return fail(f.name, lineNo, seq, `seq ${seq} after seq ${prev.seq}: reordered or inserted`);
        if (r.prev_hash !== prev.hash) return fail(f.name, lineNo, seq, 'does not follow the record before it: inserted, or the one before was replaced');
      } else {
        firstSeq = seq;
      }
      if (r['event.action'] === 'audit.checkpoint') {
        const cp = r['verdict.checkpoint'] as { seq?: number; head?: string | null; jws?: string } | undefined;
        if (!cp || typeof cp.seq !== 'number' || (cp.head !== null && hashes.get(cp.seq) !== undefined && hashes.get(cp.seq) !== cp.head)) {
          return fail(f.name, lineNo, seq, 'checkpoint does not name the chain it seals');
        }
        if (key !== undefined) {
          if (!cp.jws) return fail(f.name, lineNo, seq, 'checkpoint is not signed');
          try {
            const { payload } = await compactVerify(cp.jws, key, { algorithms: ['ES256'] });
            const signed = JSON.parse(new TextDecoder().decode(payload)) as { seq: number; head: string | null };
            if (signed.seq !== cp.seq || signed.head !== cp.head) throw new Error('payload differs');
          } catch {
            return fail(f.name, lineNo, seq, 'checkpoint signature does not verify: forged or changed');
          }
        }
        checkpoints++;
        if (!cp.jws) unsigned++;
        sealedSeq = seq;
        sinceCheckpoint = -1;
      }
      sinceCheckpoint++;
      hashes.set(seq, r.hash);
      prev = { seq, hash: r.hash };
      last = r;
      lastAt = { file: f.name, line: lineNo };
      records++;
    }
  }
  const base = { records, firstSeq, lastSeq: prev?.seq, checkpoints, signaturesChecked: key !== undefined, unsignedCheckpoints: unsigned };
  if (last && last['event.action'] !== 'audit.checkpoint') {
    if (options.live) {
      const from = sealedSeq === undefined ? firstSeq! : sealedSeq + 1;
      return { ...base, problem: undefined, openTail: { records: sinceCheckpoint, firstSeq: from, lastSeq: prev!.seq, partialLine } };
    }
    return fail(lastAt.file, lastAt.line, prev!.seq, 'unsealed tail: no checkpoint after the last record, records may have been cut off (a running server\'s file: verify with --live)');
  }
  return { ...base, problem: undefined, openTail: partialLine && prev ? { records: 0, firstSeq: prev.seq, lastSeq: prev.seq, partialLine } : undefined };
}
