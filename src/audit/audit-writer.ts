import { close as fsClose, closeSync, fdatasync as fsFdatasync, fstatSync, ftruncateSync, mkdirSync, openSync, renameSync, statSync, write as fsWrite, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { SignJWT, type CryptoKey, type KeyObject } from 'jose';
import { VerdictError } from '../errors.js';
import { link, type ChainHead } from './chain.js';
import type { AuditRecord } from './record.js';
import { applyRetention, freeRotatedName, headOfOpenFile, headOfRotated } from './trail-file.js';

export { rotatedName } from './trail-file.js';

export interface AuditSink {
  /**
   * Hands one record to the sink. In `sync` mode the promise settles once the record is
   * written (batched with the others of the same moment: group commit), and with durability
   * `disk` flushed to stable storage; in `async` mode at the end of the event-loop turn, once
   * the turn's records are in the bounded buffer (all of that turn's promises together).
   * Rejects while the sink is failed.
   */
  write(record: AuditRecord, level?: 'info' | 'warn'): Promise<void>;
  /** False while the sink is failed (it retries by itself) or closing; readiness reports it. */
  healthy(): boolean;
  /** Reopens the file at the configured path (SIGHUP, after an outside rotation). */
  reopen?(): void;
  /** A signed checkpoint, then everything written out and synced (shutdown). */
  close(): Promise<void>;
}

/** Why the writer changed files outside its own rotation. */
export type ReopenReason = 'removed' | 'moved' | 'replaced' | 'signal';

export interface AuditFailureInfo {
  readonly error: Error;
}

export interface AuditRecoveryInfo {
  readonly downMs: number;
  /** Decisions answered without their record (503, unless `audit.fail_open`). */
  readonly unrecorded: number;
  /** async mode: records already answered that were lost with the failed writes. */
  readonly lost: number;
  readonly attempts: number;
}

export interface AuditWriterOptions {
  readonly sink: 'stdout' | 'file';
  readonly path?: string | undefined;
  readonly mode: 'sync' | 'async';
  /**
   * `disk`: each group commit is fdatasync'ed before its promises settle (survives a host
   * crash); `os`: written to the OS page cache (survives a process crash). Default: `disk`
   * for a sync file sink, `os` otherwise. Always `os` for stdout.
   */
  readonly durability?: 'disk' | 'os';
  /** async mode: the longest a record waits in the buffer. */
  readonly maxDelayMs: number;
  /** A signed checkpoint every this many records… */
  readonly checkpointEvery: number;
  /** …and at least this often while records flow (0: only by count and at shutdown). */
  readonly checkpointIntervalMs: number;
  /** ES256 key that signs checkpoints; none: checkpoints are hash-chained but unsigned. */
  readonly signingKey?: { readonly key: CryptoKey | KeyObject; readonly kid: string } | undefined;
  /** Called when the sink fails (once per outage: metrics, logs). */
  readonly onFailure?: (e: Error) => void;
  /** Called when writing works again after a failure. */
  readonly onRecover?: (info: AuditRecoveryInfo) => void;
  /** Called when the writer reopened the file at its path. */
  readonly onReopen?: (reason: ReopenReason) => void;
  /** Retry of a failed sink: first after this long, doubling up to `retryMaxMs`. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** How often an idle writer checks that its file is still the one at the path. */
  readonly watchMs?: number;
  /** Tests: a stand-in for fs.fdatasync (to observe ordering with an injected delay). */
  readonly fdatasync?: (fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => void;
  /** File sink: start a new file past this size… */
  readonly rotateBytes?: number;
  /** …or this age (0: never by age). The chain continues across files. */
  readonly rotateMs?: number;
  /** Rotated files older than this are deleted or gzip-compressed (0: kept). */
  readonly retentionMs?: number;
  readonly retentionAction?: 'delete' | 'compress';
  /** A remote copy of every record, as committed locally (syslog). */
  readonly forward?: { send(line: string, level: 'info' | 'warn'): void; close(): Promise<void> } | undefined;
}

const MAX_BUFFER_BYTES = 64 * 1024 * 1024;
const MAX_REFUSED_IDS = 1000;

interface Pending {
  line: string;
  /** async mode: the lines of one event-loop turn, already encoded (see #seal). */
  buf?: Buffer;
  count?: number;
  level: 'info' | 'warn';
  id: string | undefined;
  resolve: () => void;
  reject: (e: Error) => void;
}

const noop = (): void => {};
const failed = (message: string, e?: Error) => new VerdictError('AUDIT_WRITE_FAILED', message, e ? { detail: e.message } : undefined);

/**
 * The audit trail writer: one JSON line per record, hash-chained, with signed checkpoints.
 * Written with plain `fs.write` on one file descriptor: a batch per event-loop turn in sync
 * mode, per `maxDelayMs` (or 256 KiB) in async mode.
 *
 * Faults: a failed write (disk full, read-only, I/O error) cuts the file back to the last
 * complete batch (so no record of a refused answer stays on disk), rejects every waiting
 * record (their callers answer 503) and retries with backoff; the first write that works
 * again is an `audit.recovered` record naming what was refused. After every batch the writer
 * checks that its file is still the one at the path: a deleted file gets the batch written
 * again into a new one; a moved or replaced one (logrotate) is left behind, and the chain
 * continues in the new file after an `audit.reopened` record.
 */
export class AuditWriter implements AuditSink {
  readonly #o: AuditWriterOptions;
  readonly #durable: boolean;
  #fd = -1;
  /** The file sink's file is a regular file (see #writeAll). */
  #regularFile = false;
  #ino = 0;
  #dev = 0;
  /** Bytes in the current file known to be complete batches. */
  #size = 0;
  #openedAt = Date.now();
  /** First seq written to the current file (unknown for a file continued at start). */
  #fileFirstSeq: number | undefined;
  /** Where the next record links. */
  #head: ChainHead;
  /** The end of what is on disk. */
  #committed: ChainHead;
  #inFlight: ChainHead | undefined;
  #queue: Pending[] = [];
  #queuedBytes = 0;
  /** async mode: lines of the current event-loop turn, sealed into one Buffer at its end. */
  #turn: string[] = [];
  #sealScheduled = false;
  /** async mode: the one promise the writers of the current turn wait for (see #append). */
  #turnSettled: Promise<void> | undefined;
  #settleTurn: (() => void) | undefined;
  #writing = false;
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  #scheduledNow = false;
  #reopenRequest: ReopenReason | undefined;
  #failure: Error | undefined;
  #failedAt = 0;
  #refused = 0;
  #refusedIds: string[] = [];
  #lost = 0;
  #attempts = 0;
  #retryDelay = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #recoveredAt = 0;
  #closing: Promise<void> | undefined;
  #sinceCheckpoint = 0;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #watchTimer: NodeJS.Timeout | undefined;

  constructor(options: AuditWriterOptions) {
    this.#o = options;
    this.#durable = options.sink === 'file' && (options.durability ?? (options.mode === 'sync' ? 'disk' : 'os')) === 'disk';
    let head: ChainHead | undefined;
    if (options.sink === 'file') {
      mkdirSync(dirname(options.path!), { recursive: true });
      this.#openFile();
      // The chain goes on from the file's last record across restarts, or from the newest
      // rotated file when the live one is missing or empty.
      head = headOfOpenFile(this.#fd) ?? headOfRotated(options.path!)?.head;
      this.#size = fstatSync(this.#fd).size;
      if (this.#size === 0) this.#fileFirstSeq = (head?.seq ?? 0) + 1;
      const watchMs = options.watchMs ?? 1000;
      if (watchMs > 0) {
        this.#watchTimer = setInterval(() => this.#watch(), watchMs);
        this.#watchTimer.unref();
      }
    } else {
      this.#fd = 1;
    }
    this.#head = this.#committed = head ?? { seq: 0, hash: null };
    if (options.checkpointIntervalMs > 0) {
      this.#checkpointTimer = setInterval(() => {
        if (this.#sinceCheckpoint > 0 && !this.#failure) void this.#checkpoint().catch(() => {});
      }, options.checkpointIntervalMs);
      this.#checkpointTimer.unref();
    }
  }

  healthy(): boolean {
    return this.#failure === undefined && this.#closing === undefined;
  }

  write(record: AuditRecord, level: 'info' | 'warn' = 'info'): Promise<void> {
    if (this.#closing) return Promise.reject(failed('the audit sink is closed'));
    // The writer takes the record over (see link()).
    record['log.level'] = level;
    const p = this.#append(record);
    if (!this.#failure && ++this.#sinceCheckpoint >= this.#o.checkpointEvery) void this.#checkpoint().catch(() => {});
    return p;
  }

  /** Reopen the file at the path between two batches (SIGHUP: the logrotate convention). */
  reopen(): void {
    if (this.#o.sink !== 'file' || this.#closing) return;
    this.#reopenRequest ??= 'signal';
    if (!this.#failure) this.#schedule(0);
  }

  #refuse(record: AuditRecord | undefined, id?: string): void {
    this.#refused++;
    const decisionId = id ?? (record?.['verdict.decision_id'] as string | undefined);
    if (typeof decisionId === 'string' && this.#refusedIds.length < MAX_REFUSED_IDS) this.#refusedIds.push(decisionId);
  }

  #append(record: AuditRecord): Promise<void> {
    if (this.#failure) {
      this.#refuse(record);
      return Promise.reject(failed('the audit sink failed', this.#failure));
    }
    const { record: linked, json } = link(record, this.#head);
    this.#head = { seq: linked.seq as number, hash: linked.hash as string };
    const line = `${json}\n`;
    this.#queuedBytes += line.length;
    const level = linked['log.level'] === 'warn' ? 'warn' : 'info';
    const id = linked['verdict.decision_id'] as string | undefined;
    if (this.#o.mode === 'async' && this.#queuedBytes <= MAX_BUFFER_BYTES) {
      // The caller waits for the buffer only: no promise of its own per record, and the line
      // is encoded at the end of this turn, so no JS string outlives the turn (strings held
      // for max_delay were promoted to the old generation: async cost more GC than sync).
      // The callers of one turn share one promise, settled when the turn's lines are sealed
      // into the buffer (the end of the turn): their answers then go out together, after the
      // turn's requests were read and decided. Settling each at once (an already resolved
      // promise) cost 20–45 µs more CPU per decision than sync mode (bench/README.md).
      this.#turn.push(line);
      if (!this.#sealScheduled) {
        this.#sealScheduled = true;
        setImmediate(() => this.#seal());
      }
      return (this.#turnSettled ??= new Promise<void>((resolve) => (this.#settleTurn = resolve)));
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ line, level, id, resolve, reject });
      if (this.#queuedBytes > MAX_BUFFER_BYTES) {
        this.#failQueued(new Error('audit buffer overflow: the destination cannot keep up'));
        return;
      }
      if (this.#o.mode === 'sync' || this.#queuedBytes > 256 * 1024) this.#schedule(0);
      else this.#schedule(this.#o.maxDelayMs);
      // In async mode the caller need not wait for the disk, only for the buffer.
      if (this.#o.mode === 'async') resolve();
    });
  }

  /** async mode: the turn's lines become one Buffer in the queue (and go to the syslog copy). */
  #seal(): void {
    this.#sealScheduled = false;
    this.#releaseTurn();
    if (this.#turn.length === 0) return;
    const lines = this.#turn;
    this.#turn = [];
    const buf = Buffer.from(lines.join(''));
    if (this.#o.forward) for (const l of lines) this.#o.forward.send(l.slice(0, -1), l.includes('"log.level":"warn"') ? 'warn' : 'info');
    this.#queue.push({ line: '', buf, count: lines.length, level: 'info', id: undefined, resolve: noop, reject: noop });
    this.#schedule(this.#queuedBytes > 256 * 1024 ? 0 : this.#o.maxDelayMs);
  }

  /** The callers of this turn may answer (async mode: their records are in the buffer, or counted lost). */
  #releaseTurn(): void {
    const settle = this.#settleTurn;
    this.#turnSettled = this.#settleTurn = undefined;
    settle?.();
  }

  #schedule(delayMs: number): void {
    if (this.#writing || this.#failure) return;
    if (this.#scheduled) {
      // A pending delayed flush must not hold back one that is due now (sync mode, a full buffer).
      if (delayMs !== 0 || this.#scheduledNow) return;
      clearTimeout(this.#scheduled as NodeJS.Timeout);
    }
    this.#scheduledNow = delayMs === 0;
    this.#scheduled = delayMs === 0 ? setImmediate(() => this.#flush()) : setTimeout(() => this.#flush(), delayMs);
  }

  #flush(): void {
    // Called directly too (close, a full buffer): a delayed flush still pending would fire for
    // nothing later and keep the process alive until max_delay.
    if (this.#scheduled) {
      if (this.#scheduledNow) clearImmediate(this.#scheduled as NodeJS.Immediate);
      else clearTimeout(this.#scheduled as NodeJS.Timeout);
    }
    this.#scheduled = undefined;
    if (this.#writing || this.#failure) return;
    this.#seal();
    if (this.#queue.length === 0 && this.#reopenRequest === undefined) return;
    this.#writing = true;
    try {
      if (this.#reopenRequest !== undefined) {
        const reason = this.#reopenRequest;
        this.#reopenRequest = undefined;
        this.#reopen(reason);
      }
      this.#maybeRotate();
    } catch (e) {
      this.#batchFailed(e as Error, []);
      return;
    }
    const batch = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#inFlight = this.#head;
    const buf = this.#o.mode === 'async' ? Buffer.concat(batch.map((p) => p.buf ?? Buffer.from(p.line))) : Buffer.from(batch.map((p) => p.line).join(''));
    this.#commit(buf, batch, 0);
  }

  /** Write, flush (durability `disk`), check the file is still at the path, then settle. */
  #commit(buf: Buffer, batch: Pending[], rewrites: number): void {
    this.#writeAll(buf, 0, (e) => {
      if (e) return this.#batchFailed(e, batch);
      this.#sync((e2) => {
        if (e2) return this.#batchFailed(e2, batch);
        let where: 'ok' | ReopenReason = 'ok';
        try {
          where = this.#fileState();
          if (where === 'removed' && rewrites < 3) {
            // The batch went into a deleted file: its answers are not out yet, write it again.
            this.#reopen('removed');
            return this.#commit(buf, batch, rewrites + 1);
          }
        } catch (e3) {
          return this.#batchFailed(e3 as Error, batch);
        }
        this.#size += buf.length;
        this.#committed = this.#inFlight!;
        let reopenFailed: Error | undefined;
        if (where !== 'ok') {
          // The batch is safe in the moved file; what follows goes to the path, starting
          // with the record that says so (linked before anything appended from now on).
          try {
            this.#reopen(where);
          } catch (e4) {
            reopenFailed = e4 as Error;
          }
        }
        this.#writing = false;
        for (const p of batch) {
          if (!p.buf) this.#o.forward?.send(p.line.slice(0, -1), p.level);
          p.resolve();
        }
        if (reopenFailed) this.#batchFailed(reopenFailed, []);
        else if (this.#queue.length > 0) this.#schedule(this.#o.mode === 'sync' ? 0 : this.#o.maxDelayMs);
      });
    });
  }

  #writeAll(buf: Buffer, offset: number, done: (e: Error | null) => void): void {
    // A regular file takes the write into the page cache at once (µs): written here, at the end
    // of the turn, the batch's answers go out in this turn instead of after a threadpool round
    // trip (−10 µs of CPU per decision and a third of the one-at-a-time latency with `os`
    // durability, bench/README.md). fdatasync (`disk`) stays off the loop. A pipe or device
    // (`/dev/stdout`, a FIFO) can block for as long as its reader waits: written off the loop.
    if (this.#regularFile) {
      let e: Error | null = null;
      try {
        for (let at = offset; at < buf.length; ) at += writeSync(this.#fd, buf, at, buf.length - at);
      } catch (err) {
        e = err as Error;
      }
      return done(e);
    }
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

  #sync(done: (e: Error | null) => void): void {
    // A pipe or device has no stable storage of its own to flush (fdatasync fails with EINVAL):
    // what it took is its reader's.
    if (!this.#durable || !this.#regularFile) return done(null);
    (this.#o.fdatasync ?? fsFdatasync)(this.#fd, done);
  }

  #openFile(): void {
    const fd = openSync(this.#o.path!, 'a+');
    const st = fstatSync(fd);
    this.#fd = fd;
    this.#regularFile = st.isFile();
    this.#ino = st.ino;
    this.#dev = st.dev;
    this.#size = st.size;
    this.#openedAt = Date.now();
    this.#fileFirstSeq = this.#committed === undefined ? undefined : this.#committed.seq + 1;
  }

  /** Closes a file left behind without blocking the event loop (flushed first: rotation). */
  #closeLater(fd: number): void {
    if (fd < 0) return;
    fsFdatasync(fd, () => fsClose(fd, () => {}));
  }

  /** Is the open file still the one at the path? */
  #fileState(): 'ok' | ReopenReason {
    if (this.#o.sink !== 'file') return 'ok';
    if (fstatSync(this.#fd).nlink === 0) return 'removed';
    try {
      const st = statSync(this.#o.path!);
      return st.ino === this.#ino && st.dev === this.#dev ? 'ok' : 'replaced';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'moved';
      throw e;
    }
  }

  /** Opens the path again and says so in the chain (the record follows what is linked so far). */
  #reopen(reason: ReopenReason): void {
    const lostFrom = this.#fileFirstSeq;
    const lostTo = this.#committed.seq;
    const old = this.#fd;
    this.#openFile();
    this.#closeLater(old);
    this.#o.onReopen?.(reason);
    const fields: Record<string, unknown> = { 'verdict.reopen_reason': reason, 'verdict.audit_path': this.#o.path };
    // Records in a deleted file are gone with it; the chain names the seqs so verify's gap is explained.
    if (reason === 'removed' && lostFrom !== undefined && lostTo >= lostFrom) fields['verdict.lost_seqs'] = [lostFrom, lostTo];
    void this.#append({ time: new Date().toISOString(), 'event.action': 'audit.reopened', 'log.level': reason === 'removed' ? 'warn' : 'info', ...fields }).catch(() => {});
  }

  /** Idle check between batches: notice a removed or moved file without waiting for the next record. */
  #watch(): void {
    if (this.#writing || this.#failure || this.#closing || this.#reopenRequest) return;
    try {
      const where = this.#fileState();
      if (where === 'ok') return;
      this.#reopenRequest = where;
      this.#schedule(0);
    } catch {
      // the next batch sees it too, and fails if the file cannot be written
    }
  }

  /** Between two batches, so no record is split across files. */
  #maybeRotate(): void {
    const o = this.#o;
    if (o.sink !== 'file' || this.#size === 0) return;
    const bySize = o.rotateBytes !== undefined && o.rotateBytes > 0 && this.#size >= o.rotateBytes;
    const byAge = o.rotateMs !== undefined && o.rotateMs > 0 && Date.now() - this.#openedAt >= o.rotateMs;
    if (!bySize && !byAge) return;
    const where = this.#fileState();
    // Someone else rotated (or removed) the file already: follow them instead of renaming theirs.
    if (where !== 'ok') return this.#reopen(where);
    renameSync(o.path!, freeRotatedName(o.path!, Date.now()));
    const old = this.#fd;
    this.#openFile();
    // The old file's flush runs in the background: rotation must not block the event loop.
    this.#closeLater(old);
    if (o.retentionMs) applyRetention(o.path!, o.retentionMs, o.retentionAction ?? 'compress');
  }

  /** Cuts a partly written batch off the file (never extends a file someone else truncated). */
  #cutBack(): void {
    if (this.#o.sink !== 'file') return;
    try {
      if (fstatSync(this.#fd).size > this.#size) ftruncateSync(this.#fd, this.#size);
    } catch {
      // an I/O error may refuse this too; the recovery record still says what was refused
    }
  }

  /** A batch could not be written: nothing of it stays on disk, every waiting record is refused. */
  #batchFailed(e: Error, batch: Pending[]): void {
    this.#writing = false;
    this.#cutBack();
    this.#head = this.#committed;
    const rest = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#lost += this.#turn.length;
    this.#turn = [];
    this.#releaseTurn();
    this.#enterFailure(e);
    for (const p of [...batch, ...rest]) this.#settleRefused(p, e);
  }

  /** The buffer overflowed (async, the destination too slow): drop what is queued, not what is in flight. */
  #failQueued(e: Error): void {
    const rest = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#lost += this.#turn.length;
    this.#turn = [];
    this.#releaseTurn();
    this.#head = this.#writing ? this.#inFlight! : this.#committed;
    this.#enterFailure(e);
    for (const p of rest) this.#settleRefused(p, e);
  }

  #settleRefused(p: Pending, e: Error): void {
    // async mode answered already: the record is lost; sync mode: the caller answers 503.
    if (this.#o.mode === 'async') this.#lost += p.count ?? 1;
    else this.#refuse(undefined, p.id);
    p.reject(failed('the audit sink failed', e));
  }

  #enterFailure(e: Error): void {
    // A flush still scheduled finds the sink failed and does nothing.
    if (this.#failure) return;
    this.#failure = e;
    this.#failedAt = Date.now();
    this.#attempts = 0;
    const min = this.#o.retryMinMs ?? 100;
    // A sink that flaps (fails again soon after recovering) backs off further each time.
    this.#retryDelay = Date.now() - this.#recoveredAt < 30_000 ? Math.min(Math.max(this.#retryDelay, min) * 2, this.#o.retryMaxMs ?? 5000) : min;
    this.#o.onFailure?.(e);
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closing) return;
    this.#retryTimer = setTimeout(() => this.#tryRecover(), this.#retryDelay);
    this.#retryTimer.unref();
  }

  /** One attempt to write again: reopen if needed, then the `audit.recovered` record. */
  #tryRecover(): void {
    if (!this.#failure || this.#closing) return;
    if (this.#writing) return this.#scheduleRetry();
    this.#attempts++;
    const again = (e: Error) => {
      this.#writing = false;
      this.#cutBack();
      this.#failure = e;
      this.#retryDelay = Math.min(this.#retryDelay * 2, this.#o.retryMaxMs ?? 5000);
      this.#scheduleRetry();
    };
    let reopened: ReopenReason | undefined;
    if (this.#o.sink === 'file') {
      try {
        const where = this.#fileState();
        if (where !== 'ok') reopened = where;
      } catch {
        reopened = 'replaced'; // the descriptor itself is bad (EIO, EBADF): start over at the path
      }
      if (reopened) {
        try {
          const old = this.#fd;
          this.#openFile();
          try {
            closeSync(old);
          } catch {
            // already unusable
          }
        } catch (e) {
          return again(e as Error);
        }
      }
    }
    const info: AuditRecoveryInfo = { downMs: Date.now() - this.#failedAt, unrecorded: this.#refused, lost: this.#lost, attempts: this.#attempts };
    const record: AuditRecord = {
      time: new Date().toISOString(),
      'event.action': 'audit.recovered',
      'log.level': 'warn',
      'verdict.failure': this.#failure.message,
      'verdict.failed_at': new Date(this.#failedAt).toISOString(),
      'verdict.down_ms': info.downMs,
      'verdict.unrecorded': info.unrecorded,
      'verdict.unrecorded_decision_ids': this.#refusedIds.length > 0 ? this.#refusedIds : undefined,
      'verdict.records_lost': info.lost > 0 ? info.lost : undefined,
      'verdict.reopen_reason': reopened,
    };
    const { record: linked, json } = link(record, this.#committed);
    const buf = Buffer.from(`${json}\n`);
    this.#writing = true;
    this.#writeAll(buf, 0, (e) => {
      if (e) return again(e);
      this.#sync((e2) => {
        if (e2) return again(e2);
        this.#size += buf.length;
        this.#head = this.#committed = { seq: linked.seq as number, hash: linked.hash as string };
        this.#writing = false;
        this.#failure = undefined;
        this.#refused = 0;
        this.#refusedIds = [];
        this.#lost = 0;
        this.#recoveredAt = Date.now();
        this.#o.forward?.send(json, 'warn');
        this.#o.onRecover?.(info);
        if (reopened) this.#o.onReopen?.(reopened);
        if (this.#reopenRequest !== undefined || this.#queue.length > 0) this.#schedule(0);
      });
    });
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
    // The head may have moved while signing: the checkpoint names what it signed. A sink
    // that failed meanwhile reset its head: then this checkpoint would name records that
    // are not on disk, and is dropped.
    if (this.#failure || head.seq > this.#head.seq) return;
    await this.#append({ 'log.level': 'info', time, 'event.action': 'audit.checkpoint', 'verdict.checkpoint': { seq: head.seq, head: head.hash, jws } });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#checkpointTimer);
      clearInterval(this.#watchTimer);
      clearTimeout(this.#retryTimer);
      if (!this.#failure) await this.#checkpoint().catch(() => {});
      await new Promise<void>((resolve) => {
        this.#seal();
        const wait = () => (this.#writing || (this.#queue.length > 0 && !this.#failure) ? setTimeout(wait, 2) : resolve());
        if (this.#queue.length > 0 && !this.#writing) this.#flush();
        wait();
      });
      await this.#o.forward?.close();
      if (this.#o.sink !== 'file' || this.#fd < 0) return;
      const fd = this.#fd;
      this.#fd = -1;
      // A sink still failed at shutdown has nothing more to flush, and a bad descriptor is no reason to exit 1.
      const problem = this.#failure || !this.#regularFile ? undefined : await new Promise<Error | null>((resolve) => fsFdatasync(fd, resolve));
      try {
        closeSync(fd);
      } catch {
        // nothing left to lose
      }
      if (problem) throw problem;
    })();
    return this.#closing;
  }
}
