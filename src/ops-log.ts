import pino, { type Logger } from 'pino';

/** Operational log (stderr), kept apart from the audit trail. Never given tokens or headers. */
export function createOpsLog(level: string): Logger {
  return pino({ level, base: { name: 'verdict' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}
