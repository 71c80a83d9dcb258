import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';
import type { AuditRecord } from './record.js';

export interface AuditSink {
  /** Hands one record to the sink. Throws if the sink cannot take it. */
  write(record: AuditRecord, level?: 'info' | 'warn'): void;
  /** Writes out everything buffered (shutdown). */
  flush(): Promise<void>;
}

export interface AuditSinkOptions {
  readonly sink: 'stdout' | 'file';
  readonly path?: string | undefined;
}

/**
 * The audit trail is a pino logger of its own, apart from operational logs (stderr):
 * one JSON line per record, no pid/hostname, `time` set by the record, the level as
 * `log.level` (`warn` for rejected reloads and the like).
 */
export function createAuditSink(options: AuditSinkOptions): AuditSink {
  let dest: pino.DestinationStream & { flushSync?: () => void; flush?: (cb?: (err?: Error) => void) => void };
  if (options.sink === 'file') {
    mkdirSync(dirname(options.path!), { recursive: true });
    dest = pino.destination({ dest: options.path!, sync: false, minLength: 0 });
  } else {
    dest = pino.destination({ dest: 1, sync: false, minLength: 0 });
  }
  const logger: Logger = pino(
    { base: null, timestamp: false, formatters: { level: (label) => ({ 'log.level': label }) }, messageKey: 'message' },
    dest,
  );
  return {
    write(record, level = 'info') {
      logger[level](record);
    },
    flush() {
      return new Promise((resolve) => {
        if (typeof dest.flush === 'function') dest.flush(() => resolve());
        else resolve();
      });
    },
  };
}
