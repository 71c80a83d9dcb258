import { createHash } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { claimsToPrincipal } from './claims-to-principal.js';
import { invalidToken, type IdentityResult } from './identity-result.js';
import type { JwtIssuer } from './jwt-issuer.js';
import type { Principal } from './principal.js';
import { annotate, childSpan } from '../telemetry/spans.js';

/**
 * The key set, with a `verdict.jwks.fetch` span around lookups that will fetch (jose's
 * remote set is not fresh): a slow decision shows whether it waited for the IdP.
 */
function tracedKeySet(keys: JWTVerifyGetKey): JWTVerifyGetKey {
  const fresh = () => (keys as { fresh?: boolean }).fresh !== false;
  return (header, token) => (fresh() ? keys(header, token) : childSpan('verdict.jwks.fetch', undefined, async () => keys(header, token)));
}

export interface JwtVerifierOptions {
  /** Tokens longer than this are refused before any parsing. */
  readonly maxTokenBytes: number;
  /** Verified tokens kept (keyed by a hash of the token) so a token is verified once, not per request. */
  readonly cacheSize: number;
  /** Upper bound on how long a verified token is trusted without re-verification. */
  readonly cacheMaxTtlMs: number;
  /** For tests: how a key set is fetched. Default: jose's remote JWKS with cooldown. */
  readonly keySetFor?: (issuer: JwtIssuer) => JWTVerifyGetKey;
}

interface IssuerEntry {
  readonly config: JwtIssuer;
  readonly keys: JWTVerifyGetKey;
}

// Header parameters that carry or point at key material: the key must come from our
// configured JWKS only, so a token that brings its own is refused outright.
const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export class JwtVerifier {
  readonly #issuers = new Map<string, IssuerEntry>();
  readonly #cache: LRUCache<string, Principal>;
  readonly #options: JwtVerifierOptions;

  constructor(issuers: readonly JwtIssuer[], options: JwtVerifierOptions) {
    this.#options = options;
    for (const config of issuers) {
      const keys =
        options.keySetFor?.(config) ??
        createRemoteJWKSet(new URL(config.jwksUri), { cooldownDuration: config.jwksCooldownMs, timeoutDuration: config.jwksTimeoutMs });
      this.#issuers.set(config.issuer, { config, keys: tracedKeySet(keys) });
    }
    this.#cache = new LRUCache({ max: Math.max(1, options.cacheSize) });
  }

  get issuerCount(): number {
    return this.#issuers.size;
  }

  async verify(token: string, nowMs: number): Promise<IdentityResult> {
    if (token.length > this.#options.maxTokenBytes) return invalidToken(`token is longer than ${this.#options.maxTokenBytes} bytes`);
    if (!COMPACT_JWS.test(token)) return invalidToken('token is not a compact JWS');

    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      if (cached.expiresAt !== undefined && cached.expiresAt * 1000 > nowMs) {
        annotate({ 'verdict.token_cache_hit': true });
        return { kind: 'principal', principal: cached };
      }
      this.#cache.delete(key);
    }

    let issuer: IssuerEntry | undefined;
    let alg: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      for (const h of FORBIDDEN_HEADERS) if (h in header) return invalidToken(`token header carries "${h}"`);
      alg = header.alg;
      const iss = decodeJwt(token).iss;
      issuer = iss === undefined ? undefined : this.#issuers.get(iss);
      if (issuer === undefined) return invalidToken(iss === undefined ? 'token has no iss claim' : 'token issuer is not configured');
    } catch {
      return invalidToken('token is not decodable');
    }
    // Checked before verification so a disallowed algorithm never triggers a key fetch.
    if (alg === undefined || !issuer.config.algorithms.includes(alg)) return invalidToken(`algorithm ${JSON.stringify(alg)} is not allowed for this issuer`);

    annotate({ 'verdict.token_cache_hit': false });
    let payload;
    try {
      const { config, keys } = issuer;
      ({ payload } = await childSpan('verdict.token.verify', { 'verdict.issuer': config.issuer, 'verdict.token_alg': alg }, () => jwtVerify(token, keys, {
        issuer: config.issuer,
        audience: [...config.audiences],
        algorithms: [...config.algorithms],
        clockTolerance: config.clockSkewSeconds,
        requiredClaims: ['exp', 'iss', 'aud'],
        currentDate: new Date(nowMs),
      })));
    } catch (e) {
      return invalidToken(describeJoseError(e));
    }
    const principal = claimsToPrincipal('jwt', payload, { groupsClaim: issuer.config.groupsClaim, assumeEmailVerified: issuer.config.assumeEmailVerified });
    if (typeof principal === 'string') return invalidToken(principal);

    const ttl = Math.min(principal.expiresAt! * 1000 - nowMs, this.#options.cacheMaxTtlMs);
    if (ttl > 0) this.#cache.set(key, principal, { ttl });
    return { kind: 'principal', principal };
  }
}

/** jose's error codes are stable and carry no token material; good for the audit log. */
function describeJoseError(e: unknown): string {
  if (e instanceof joseErrors.JOSEError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? `${e.name}: ${e.message}` : 'verification failed';
}
