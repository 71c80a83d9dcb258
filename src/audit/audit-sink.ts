import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';
import { VerdictError } from '../errors.js';
import type { AuditRecord } from './record.js';

export interface AuditSink {
  /** Hands one record to the sink. Throws once the sink has failed: the caller must deny. */
  write(record: AuditRecord, level?: 'info' | 'warn'): void;
  /** False once a write failed; readiness reports it. */
  healthy(): boolean;
  /** Writes out everything buffered, syncs, and stops accepting records (shutdown). */
  close(): Promise<void>;
}

export interface AuditSinkOptions {
  readonly sink: 'stdout' | 'file';
  readonly path?: string | undefined;
  /** Longest time a record may sit in the in-process buffer before it is written. */
  readonly maxDelayMs: number;
}

// Records are written in batches: one write per 8 KiB or per `maxDelayMs`, not one
// syscall per decision (which cost more than the decision itself). The buffer is
// bounded; if the destination cannot keep up, the sink fails and checks are denied.
const BATCH_BYTES = 8 * 1024;
const MAX_BUFFER_BYTES = 64 * 1024 * 1024;

/**
 * The audit trail is a pino logger of its own, apart from operational logs (stderr):
 * one JSON line per record, no pid/hostname, `time` set by the record, the level as
 * `log.level` (`warn` for rejected reloads and the like).
 */
export function createAuditSink(options: AuditSinkOptions): AuditSink {
  if (options.sink === 'file') mkdirSync(dirname(options.path!), { recursive: true });
  const dest = pino.destination({
    dest: options.sink === 'file' ? options.path! : 1,
    sync: false,
    minLength: BATCH_BYTES,
    maxLength: MAX_BUFFER_BYTES,
    periodicFlush: Math.max(1, options.maxDelayMs),
  });
  let failure: Error | undefined;
  dest.on('error', (e: Error) => {
    failure ??= e;
  });
  dest.on('drop', () => {
    failure ??= new Error('audit buffer overflow: the destination cannot keep up');
  });
  const logger: Logger = pino(
    { base: null, timestamp: false, formatters: { level: (label) => ({ 'log.level': label }) }, messageKey: 'message' },
    dest,
  );
  let closed: Promise<void> | undefined;
  return {
    write(record, level = 'info') {
      if (failure) throw new VerdictError('AUDIT_WRITE_FAILED', 'the audit sink failed', { detail: failure.message });
      if (closed) throw new VerdictError('AUDIT_WRITE_FAILED', 'the audit sink is closed');
      logger[level](record);
    },
    healthy() {
      return failure === undefined && closed === undefined;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        dest.once('close', () => resolve());
        dest.end();
      });
      return closed;
    },
  };
}
