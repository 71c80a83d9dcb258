/** A browser session as the store keeps it. Times are milliseconds since the epoch. */
export interface SessionRecord {
  readonly sid: string;
  readonly issuer: string;
  readonly subject: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
  /** Absolute end: `session.max_age` after login. */
  readonly expiresAt: number;
  readonly lastSeen: number;
  readonly claimsRefreshedAt: number;
  readonly refreshToken: string | undefined;
}

/**
 * Server-side session state, so that revocation and suspension take effect on the very
 * next request. Implementations: memory (one process) and Redis (shared by replicas).
 * Every method may reject when the store is unreachable; callers fail closed.
 */
export interface SessionStore {
  put(record: SessionRecord): Promise<void>;
  get(sid: string): Promise<SessionRecord | undefined>;
  delete(sid: string): Promise<boolean>;
  listUser(issuer: string, subject: string): Promise<SessionRecord[]>;
  setSuspended(issuer: string, subject: string, suspended: boolean): Promise<void>;
  isSuspended(issuer: string, subject: string): Promise<boolean>;
  /** The same, answered at once, by a store that holds suspensions in memory (absent: ask isSuspended). */
  suspendedNow?(issuer: string, subject: string): boolean;
  /** False while the store cannot be reached; readiness reports it. */
  healthy(): boolean;
  close(): Promise<void>;
}

export const userKey = (issuer: string, subject: string): string => `${issuer}\u0000${subject}`;
