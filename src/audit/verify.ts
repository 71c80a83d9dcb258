import { compactVerify, type CryptoKey, type KeyObject } from 'jose';
import { recordHash } from './chain.js';
import type { AuditRecord } from './record.js';
import { AuditLineTooLong, type ReadLine } from './read-records.js';

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
 * verify and name the hash the chain has at its seq. The files' text is given whole (tests);
 * verifyLines below is the streamed form the CLI uses.
 */
export function verifyTrail(files: readonly { name: string; text: string }[], key?: Key, options: VerifyOptions = {}): Promise<VerifyResult> {
  function* lines(): Generator<ReadLine> {
    for (const f of files) {
      const parts = f.text.split('\n');
      const complete = f.text.endsWith('\n') || f.text === '';
      for (let i = 0; i < parts.length; i++) {
        if (parts[i] === '') continue;
        yield { file: f.name, line: i + 1, text: parts[i]!, ...(i === parts.length - 1 && !complete ? { unterminated: true as const } : {}) };
      }
    }
  }
  return verifyLines(files.map((f) => f.name), lines(), key, options);
}

/**
 * The same walk over a stream of lines (read-records.ts): memory stays flat however long the
 * trail, where reading whole files failed on a trail of more than 512 MiB (the longest string
 * Node makes) and inflated a hostile `.gz` in memory. A line longer than the reader's bound is
 * a problem at that line (no record is that long), not a crash.
 */
export async function verifyLines(fileNames: readonly string[], input: Iterable<ReadLine> | AsyncIterable<ReadLine>, key?: Key, options: VerifyOptions = {}): Promise<VerifyResult> {
  // Hashes of the records since the last checkpoint: what the next checkpoint can name.
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
  let lastAt = { file: fileNames[0] ?? '', line: 0 };
  const fail = (file: string, line: number, seq: number | undefined, message: string): VerifyResult => ({ records, firstSeq, lastSeq: prev?.seq, checkpoints, signaturesChecked: key !== undefined, unsignedCheckpoints: unsigned, problem: { file, line, seq, message } });

  const it = (Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : input[Symbol.iterator]()) as AsyncIterator<ReadLine> | Iterator<ReadLine>;
  const next = async (): Promise<IteratorResult<ReadLine>> => it.next();
  try {
    for (let n = await next(); !n.done; n = await next()) {
      const { file, line: lineNo, text: raw, unterminated } = n.value;
      const expected = prev ? prev.seq + 1 : undefined;
      if (unterminated) {
        // A running server may be in the middle of writing its last line.
        if (options.live && file === fileNames.at(-1)) {
          partialLine = true;
          continue;
        }
        return fail(file, lineNo, expected, 'truncated tail: the last line is incomplete');
      }
      let r: AuditRecord;
      try {
        r = JSON.parse(raw) as AuditRecord;
      } catch {
        return fail(file, lineNo, expected, 'not a JSON record: changed');
      }
      const seq = typeof r.seq === 'number' ? r.seq : undefined;
      if (seq === undefined || typeof r.hash !== 'string') return fail(file, lineNo, expected, 'record without seq/hash: inserted');
      if (recordHash(r) !== r.hash) return fail(file, lineNo, seq, 'record content does not match its hash: changed');
      if (prev) {
        if (seq > prev.seq + 1) {
          const want = prev.seq + 1;
          // Read on through this file: the missing seq later in it means reordered.
          let later = false;
          for (let m = await next(); !m.done && m.value.file === file && !later; m = await next()) {
            try {
              later = (JSON.parse(m.value.text) as AuditRecord).seq === want;
            } catch {
              // not a record: not the one looked for
            }
          }
          return fail(file, lineNo, want, later ? `seq ${want} comes later: reordered` : `records ${want}…${seq - 1} are missing: removed`);
        }
        if (seq <= prev.seq) return fail(file, lineNo, seq, `seq ${seq} after seq ${prev.seq}: reordered or inserted`);
        if (r.prev_hash !== prev.hash) return fail(file, lineNo, seq, 'does not follow the record before it: inserted, or the one before was replaced');
      } else {
        firstSeq = seq;
      }
      if (r['event.action'] === 'audit.checkpoint') {
        const cp = r['verdict.checkpoint'] as { seq?: number; head?: string | null; jws?: string } | undefined;
        if (!cp || typeof cp.seq !== 'number' || (cp.head !== null && hashes.get(cp.seq) !== undefined && hashes.get(cp.seq) !== cp.head)) {
          return fail(file, lineNo, seq, 'checkpoint does not name the chain it seals');
        }
        if (key !== undefined) {
          if (!cp.jws) return fail(file, lineNo, seq, 'checkpoint is not signed');
          try {
            const { payload } = await compactVerify(cp.jws, key, { algorithms: ['ES256'] });
            const signed = JSON.parse(new TextDecoder().decode(payload)) as { seq: number; head: string | null };
            if (signed.seq !== cp.seq || signed.head !== cp.head) throw new Error('payload differs');
          } catch {
            return fail(file, lineNo, seq, 'checkpoint signature does not verify: forged or changed');
          }
        }
        checkpoints++;
        if (!cp.jws) unsigned++;
        sealedSeq = seq;
        sinceCheckpoint = -1;
        // What is sealed is never named again (the head only moves on): keep memory flat.
        for (const s of hashes.keys()) {
          if (s >= cp.seq) break;
          hashes.delete(s);
        }
      }
      sinceCheckpoint++;
      hashes.set(seq, r.hash);
      prev = { seq, hash: r.hash };
      last = r;
      lastAt = { file, line: lineNo };
      records++;
    }
  } catch (e) {
    if (!(e instanceof AuditLineTooLong)) throw e;
    return fail(e.file, e.line, prev ? prev.seq + 1 : undefined, `line longer than ${e.maxLineBytes} bytes: no record is that long (changed or inserted)`);
  } finally {
    // Stopped at a problem: close the file being read.
    await it.return?.();
  }
  const base = { records, firstSeq, lastSeq: prev?.seq, checkpoints, signaturesChecked: key !== undefined, unsignedCheckpoints: unsigned };
  // A server's trail begins with its start record: files with no record at all are a trail that
  // was emptied (truncated to nothing), which would otherwise pass as intact. A running server's
  // first line still being written (--live) is the one empty trail that is fine.
  if (records === 0 && !(options.live && partialLine)) {
    return fail(fileNames.at(-1) ?? '', 0, undefined, 'no records: a trail starts with the server\'s start record, so an empty one was emptied');
  }
  if (last && last['event.action'] !== 'audit.checkpoint') {
    if (options.live) {
      const from = sealedSeq === undefined ? firstSeq! : sealedSeq + 1;
      return { ...base, problem: undefined, openTail: { records: sinceCheckpoint, firstSeq: from, lastSeq: prev!.seq, partialLine } };
    }
    return fail(lastAt.file, lastAt.line, prev!.seq, 'unsealed tail: no checkpoint after the last record, records may have been cut off (a running server\'s file: verify with --live)');
  }
  return { ...base, problem: undefined, openTail: partialLine && prev ? { records: 0, firstSeq: prev.seq, lastSeq: prev.seq, partialLine } : undefined };
}

