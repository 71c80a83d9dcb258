/**
 * A verified identity. Only code that has verified a credential (JWT signature and
 * claims, or a sealed session) builds one; nothing here is ever taken from a header.
 */
export interface Principal {
  readonly method: 'jwt' | 'session';
  readonly issuer: string;
  /** `sub`. */
  readonly subject: string;
  /** Present only when the issuer did not mark it unverified (`email_verified: false`). */
  readonly email: string | undefined;
  readonly groups: readonly string[];
  /** All verified claims, for the `claim` criterion. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Seconds since the epoch of the login (`auth_time`, else `iat`), when known. */
  readonly authTime: number | undefined;
  /** Seconds since the epoch when the credential stops being valid. */
  readonly expiresAt: number | undefined;
  /** The browser session id, for sessions only. */
  readonly sessionId?: string | undefined;
  /**
   * Sessions only: the claims are the last known ones, because their refresh is due but the
   * IdP could not be reached (within `claims_refresh_grace`).
   */
  readonly claimsStale?: boolean | undefined;
}
