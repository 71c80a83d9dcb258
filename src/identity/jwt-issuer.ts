/** One trusted token issuer, as the verifier uses it (durations already in units). */
export interface JwtIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  readonly groupsClaim: string;
  /** Emails of this issuer count without `email_verified: true` (config opt-in). */
  readonly assumeEmailVerified?: boolean;
  readonly clockSkewSeconds: number;
  /** Minimum time between two routine JWKS refetches; ceiling of the retry backoff after failures. */
  readonly jwksCooldownMs: number;
  readonly jwksTimeoutMs: number;
  /** Held keys older than this are refetched in the background (requests keep using them). */
  readonly jwksRefreshMs: number;
  /** An unseen `kid` triggers a fetch once this long has passed since the last one. */
  readonly jwksMinIntervalMs: number;
  /** Held keys keep verifying this long after the last successful fetch during an outage. */
  readonly jwksMaxStaleMs: number;
}

/** Asymmetric JWS algorithms only: `none` and HMAC (a public key used as a secret) can never be allowed. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export const DEFAULT_ALGORITHMS = ['RS256', 'ES256'] as const;
