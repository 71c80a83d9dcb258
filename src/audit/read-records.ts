import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { groupByWorker } from '../cluster/audit-path.js';

export interface ReadLine {
  readonly file: string;
  /** 1-based line number in its file. */
  readonly line: number;
  readonly text: string;
  /** The file's last line had no newline after it: a writer may still be in the middle of it. */
  readonly unterminated?: true;
}

/** A line longer than the reader's bound: no audit record is that long. */
export class AuditLineTooLong extends Error {
  override readonly name = 'AuditLineTooLong';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly maxLineBytes: number,
  ) {
    super(`${file}: line ${line} is longer than ${maxLineBytes} bytes, so it is no audit record`);
  }
}

/**
 * The longest line read, in bytes. A record is bounded by the gRPC message size (16 MiB at
 * most) even with every byte escaped; a longer line is not a record. Without a bound, a small
 * hostile `.gz` (a few hundred KB inflating to one line of gigabytes) exhausted memory and
 * crashed the CLI with an uncaught RangeError instead of a clear error.
 */
export const MAX_LINE_BYTES = 128 * 1024 * 1024;

/**
 * The lines of audit files in the order given (oldest first), streamed: memory stays flat
 * however long the trail. Rotated files compressed by retention (`.gz`) are read as they are.
 * A file that cannot be opened or decompressed, or holds a line longer than `maxLineBytes`,
 * rejects the iteration with its error.
 */
export async function* readAuditLines(files: readonly string[], maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<ReadLine> {
  for (const file of files) {
    const raw = createReadStream(file);
    const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
    // Errors of the raw stream (ENOENT) do not pass through pipe(): forward them.
    if (input !== raw) raw.on('error', (e) => input.destroy(e));
    let line = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const tooLong = () => new AuditLineTooLong(file, line + 1, maxLineBytes);
    const take = (last: Buffer): string => {
      const buf = pendingBytes === 0 ? last : Buffer.concat([...pending, last]);
      pending = [];
      pendingBytes = 0;
      line++;
      const text = buf.toString('utf8');
      return text.endsWith('\r') ? text.slice(0, -1) : text;
    };
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        if (pendingBytes + (nl - start) > maxLineBytes) throw tooLong();
        const text = take(chunk.subarray(start, nl));
        start = nl + 1;
        if (text !== '') yield { file, line, text };
      }
      if (start < chunk.length) {
        pendingBytes += chunk.length - start;
        if (pendingBytes > maxLineBytes) {
          input.destroy();
          throw tooLong();
        }
        pending.push(chunk.subarray(start));
      }
    }
    if (pendingBytes > 0) {
      const text = take(Buffer.alloc(0));
      if (text !== '') yield { file, line, text, unterminated: true };
    }
  }
}

/** The `time` of a record line, for ordering ('' for a line that is not a record: it sorts first). */
function timeOf(text: string): string {
  try {
    const t = (JSON.parse(text) as { time?: unknown }).time;
    return typeof t === 'string' ? t : '';
  } catch {
    return '';
  }
}

/**
 * The lines of a trail written by `serve --workers N` (one chain per worker, `audit.w1.jsonl`,
 * …) as one trail ordered by `time`: each worker's files are read in the order given and the
 * chains merged as they stream (memory: one line per worker). Without worker numbers this is
 * `readAuditLines` unchanged.
 */
export async function* mergedByTime(files: readonly string[]): AsyncGenerator<ReadLine> {
  const groups = [...groupByWorker(files).values()];
  if (groups.length === 1) {
    yield* readAuditLines(groups[0]!);
    return;
  }
  const its = groups.map((g) => readAuditLines(g)[Symbol.asyncIterator]());
  const heads = await Promise.all(its.map((it) => it.next()));
  const times = heads.map((h) => (h.done ? '' : timeOf(h.value.text)));
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      if (heads[i]!.done) continue;
      // ISO-8601 UTC times of one format compare as strings; ties keep worker order.
      if (best < 0 || times[i]! < times[best]!) best = i;
    }
    if (best < 0) return;
    yield heads[best]!.value as ReadLine;
    heads[best] = await its[best]!.next();
    times[best] = heads[best]!.done ? '' : timeOf((heads[best]!.value as ReadLine).text);
  }
}
