import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync, write as fsWrite } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SignJWT, type CryptoKey, type KeyObject } from 'jose';
import { VerdictError } from '../errors.js';
import { link, type ChainHead } from './chain.js';
import type { AuditRecord } from './record.js';

export interface AuditSink {
  /**
   * Hands one record to the sink. In `sync` mode the promise settles once the record is
   * written to the OS (batched with the others of the same moment: group commit); in
   * `async` mode once it is in the bounded buffer. Rejects when the sink has failed.
   */
  write(record: AuditRecord, level?: 'info' | 'warn'): Promise<void>;
  /** False once a write failed; readiness reports it. */
  healthy(): boolean;
  /** A signed checkpoint, then everything written out and synced (shutdown). */
  close(): Promise<void>;
}

export interface AuditWriterOptions {
  readonly sink: 'stdout' | 'file';
  readonly path?: string | undefined;
  readonly mode: 'sync' | 'async';
  /** async mode: the longest a record waits in the buffer. */
  readonly maxDelayMs: number;
  /** A signed checkpoint every this many records… */
  readonly checkpointEvery: number;
  /** …and at least this often while records flow (0: only by count and at shutdown). */
  readonly checkpointIntervalMs: number;
  /** ES256 key that signs checkpoints; none: checkpoints are hash-chained but unsigned. */
  readonly signingKey?: { readonly key: CryptoKey | KeyObject; readonly kid: string } | undefined;
  /** Called once when the sink fails (metrics, logs). */
  readonly onFailure?: (e: Error) => void;
  /** File sink: start a new file past this size… */
  readonly rotateBytes?: number;
  /** …or this age (0: never by age). The chain continues across files. */
  readonly rotateMs?: number;
  /** Rotated files older than this are deleted or gzip-compressed (0: kept). */
  readonly retentionMs?: number;
  readonly retentionAction?: 'delete' | 'compress';
  /** A remote copy of every record, as written (syslog). */
  readonly forward?: { send(line: string, level: 'info' | 'warn'): void; close(): Promise<void> } | undefined;
}

/** `audit.jsonl` → `audit.2026-11-23T20-18-16.123Z.jsonl`: names sort in time order. */
export function rotatedName(path: string, at: Date): string {
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}.${at.toISOString().replaceAll(':', '-')}${ext}`;
}

const MAX_BUFFER_BYTES = 64 * 1024 * 1024;

/**
 * The last complete line of a file, to continue its chain after a restart. A partial last
 * line (the process died inside a write) is cut off first: in sync mode no answer went out
 * for it, and left in place it would break the chain for good.
 */
function lastRecord(fd: number): AuditRecord | undefined {
  let size = fstatSync(fd).size;
  if (size === 0) return undefined;
  const len = Math.min(size, 1024 * 1024);
  const buf = Buffer.alloc(len);
  readSync(fd, buf, 0, len, size - len);
  if (buf[len - 1] !== 0x0a) {
    const cut = buf.lastIndexOf(0x0a);
    size = size - len + cut + 1;
    ftruncateSync(fd, size);
    if (size === 0) return undefined;
  }
  const lines = buf.subarray(0, buf.lastIndexOf(0x0a) + 1).toString('utf8').split('\n').filter((l) => l.trim() !== '');
  try {
    return JSON.parse(lines.at(-1) ?? '') as AuditRecord;
  } catch {
    return undefined;
  }
}

interface Pending {
  line: string;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * The audit trail writer: one JSON line per record, hash-chained, with signed checkpoints.
 * Written with plain `fs.write` on one file descriptor: a batch per event-loop turn in sync
 * mode, per `maxDelayMs` (or 256 KiB) in async mode. A failed write fails the sink: every
 * later `write` rejects and the caller denies.
 */
export class AuditWriter implements AuditSink {
  readonly #o: AuditWriterOptions;
  #fd: number;
  #size = 0;
  #openedAt = Date.now();
  #head: ChainHead;
  #queue: Pending[] = [];
  #queuedBytes = 0;
  #writing = false;
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  #scheduledNow = false;
  #failure: Error | undefined;
  #closing: Promise<void> | undefined;
  #sinceCheckpoint = 0;
  #checkpointTimer: NodeJS.Timeout | undefined;

  constructor(options: AuditWriterOptions) {
    this.#o = options;
    if (options.sink === 'file') {
      mkdirSync(dirname(options.path!), { recursive: true });
      this.#fd = openSync(options.path!, 'a+');
      // The chain goes on from the file's last record across restarts.
      const last = lastRecord(this.#fd);
      this.#size = fstatSync(this.#fd).size;
      this.#openedAt = fstatSync(this.#fd).birthtimeMs || Date.now();
      this.#head = last && typeof last.seq === 'number' && typeof last.hash === 'string' ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: null };
    } else {
      this.#fd = 1;
      this.#head = { seq: 0, hash: null };
    }
    if (options.checkpointIntervalMs > 0) {
      this.#checkpointTimer = setInterval(() => {
        if (this.#sinceCheckpoint > 0) void this.#checkpoint().catch(() => {});
      }, options.checkpointIntervalMs);
      this.#checkpointTimer.unref();
    }
  }

  healthy(): boolean {
    return this.#failure === undefined && this.#closing === undefined;
  }

  write(record: AuditRecord, level: 'info' | 'warn' = 'info'): Promise<void> {
    if (this.#failure) return Promise.reject(new VerdictError('AUDIT_WRITE_FAILED', 'the audit sink failed', { detail: this.#failure.message }));
    if (this.#closing) return Promise.reject(new VerdictError('AUDIT_WRITE_FAILED', 'the audit sink is closed'));
    // The writer takes the record over (see link()).
    record['log.level'] = level;
    const p = this.#append(record);
    if (++this.#sinceCheckpoint >= this.#o.checkpointEvery) void this.#checkpoint().catch(() => {});
    return p;
  }

  #append(record: AuditRecord): Promise<void> {
    const { record: linked, json } = link(record, this.#head);
    this.#head = { seq: linked.seq as number, hash: linked.hash as string };
    const line = `${json}\n`;
    this.#o.forward?.send(json, linked['log.level'] === 'warn' ? 'warn' : 'info');
    this.#queuedBytes += line.length;
    if (this.#queuedBytes > MAX_BUFFER_BYTES) this.#fail(new Error('audit buffer overflow: the destination cannot keep up'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ line, resolve, reject });
      if (this.#o.mode === 'sync' || this.#queuedBytes > 256 * 1024) this.#schedule(0);
      else this.#schedule(this.#o.maxDelayMs);
      // In async mode the caller need not wait for the disk, only for the buffer.
      if (this.#o.mode === 'async') resolve();
    });
  }

  #schedule(delayMs: number): void {
    if (this.#writing) return;
    if (this.#scheduled) {
      // A pending delayed flush must not hold back one that is due now (sync mode, a full buffer).
      if (delayMs !== 0 || this.#scheduledNow) return;
      clearTimeout(this.#scheduled as NodeJS.Timeout);
    }
    this.#scheduledNow = delayMs === 0;
    this.#scheduled = delayMs === 0 ? setImmediate(() => this.#flush()) : setTimeout(() => this.#flush(), delayMs);
  }

  #flush(): void {
    this.#scheduled = undefined;
    if (this.#writing || this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#writing = true;
    try {
      this.#maybeRotate();
    } catch (e) {
      this.#writing = false;
      this.#fail(e as Error);
      for (const p of batch) p.reject(new VerdictError('AUDIT_WRITE_FAILED', 'audit rotation failed', { detail: (e as Error).message }));
      return;
    }
    const buf = Buffer.from(batch.map((p) => p.line).join(''));
    this.#size += buf.length;
    const done = (e: Error | null) => {
      this.#writing = false;
      if (e) {
        this.#fail(e);
        for (const p of batch) p.reject(new VerdictError('AUDIT_WRITE_FAILED', 'the audit sink failed', { detail: e.message }));
        for (const p of this.#queue) p.reject(new VerdictError('AUDIT_WRITE_FAILED', 'the audit sink failed', { detail: e.message }));
        this.#queue = [];
        return;
      }
      for (const p of batch) p.resolve();
      if (this.#queue.length > 0) this.#schedule(this.#o.mode === 'sync' ? 0 : this.#o.maxDelayMs);
    };
    this.#writeAll(buf, 0, done);
  }

  #writeAll(buf: Buffer, offset: number, done: (e: Error | null) => void): void {
    fsWrite(this.#fd, buf, offset, buf.length - offset, null, (e, n) => {
      if (e) {
        // stdout may be a non-blocking pipe: wait for the reader instead of failing.
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return void setTimeout(() => this.#writeAll(buf, offset, done), 1);
        return done(e);
      }
      if (offset + n < buf.length) return this.#writeAll(buf, offset + n, done);
      done(null);
    });
  }

  /** Between two batches, so no record is split across files. */
  #maybeRotate(): void {
    const o = this.#o;
    if (o.sink !== 'file' || this.#size === 0) return;
    const bySize = o.rotateBytes !== undefined && o.rotateBytes > 0 && this.#size >= o.rotateBytes;
    const byAge = o.rotateMs !== undefined && o.rotateMs > 0 && Date.now() - this.#openedAt >= o.rotateMs;
    if (!bySize && !byAge) return;
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    renameSync(o.path!, rotatedName(o.path!, new Date()));
    this.#fd = openSync(o.path!, 'a+');
    this.#size = 0;
    this.#openedAt = Date.now();
    this.#applyRetention();
  }

  #applyRetention(): void {
    const o = this.#o;
    if (!o.retentionMs) return;
    const dir = dirname(o.path!);
    const ext = extname(o.path!);
    const stem = basename(o.path!, ext);
    const now = Date.now();
    for (const name of readdirSync(dir)) {
      const m = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}\\.\\d{3}Z)${ext.replace('.', '\\.')}$`).exec(name);
      if (!m) continue;
      const at = Date.parse(m[1]!.replace(/T(\d{2})-(\d{2})-(\d{2})/, 'T$1:$2:$3'));
      if (Number.isNaN(at) || now - at < o.retentionMs) continue;
      const file = join(dir, name);
      if (o.retentionAction === 'compress') writeFileSync(`${file}.gz`, gzipSync(readFileSync(file)));
      unlinkSync(file);
    }
  }

  #fail(e: Error): void {
    if (this.#failure) return;
    this.#failure = e;
    this.#o.onFailure?.(e);
  }

  /** A record that seals the chain up to here: its head hash and seq, signed when a key is set. */
  async #checkpoint(): Promise<void> {
    this.#sinceCheckpoint = 0;
    const head = this.#head;
    const time = new Date().toISOString();
    let jws: string | undefined;
    if (this.#o.signingKey) {
      jws = await new SignJWT({ seq: head.seq, head: head.hash, time })
        .setProtectedHeader({ alg: 'ES256', kid: this.#o.signingKey.kid, typ: 'verdict-audit-checkpoint' })
        .sign(this.#o.signingKey.key);
    }
    // The head may have moved while signing: the checkpoint names what it signed.
    await this.#append({ 'log.level': 'info', time, 'event.action': 'audit.checkpoint', 'verdict.checkpoint': { seq: head.seq, head: head.hash, jws } });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#checkpointTimer);
      if (!this.#failure) await this.#checkpoint().catch(() => {});
      await new Promise<void>((resolve) => {
        const wait = () => (this.#writing || this.#queue.length > 0 ? setTimeout(wait, 2) : resolve());
        if (this.#queue.length > 0 && !this.#writing) this.#flush();
        wait();
      });
      await this.#o.forward?.close();
      if (this.#o.sink === 'file') {
        try {
          fsyncSync(this.#fd);
        } finally {
          closeSync(this.#fd);
        }
      }
    })();
    return this.#closing;
  }
}
