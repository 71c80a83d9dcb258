import { createHash } from 'node:crypto';

/** How a session id appears in the audit trail: a hash that correlates, never the id itself. */
export function sessionHash(sid: string): string {
  return createHash('sha256').update(sid).digest('hex').slice(0, 32);
}
