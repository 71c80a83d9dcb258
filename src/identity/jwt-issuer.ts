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
  /** Minimum time between two JWKS fetches, also when a token names an unknown `kid`. */
  readonly jwksCooldownMs: number;
  readonly jwksTimeoutMs: number;
}

/** Asymmetric JWS algorithms only: `none` and HMAC (a public key used as a secret) can never be allowed. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export const DEFAULT_ALGORITHMS = ['RS256', 'ES256'] as const;
