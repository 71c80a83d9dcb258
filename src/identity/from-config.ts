import type { Config } from '../config/config.js';
import { parseDuration } from '../duration.js';
import { JwtVerifier, type JwtVerifierOptions } from './jwt-verifier.js';
import type { JwtIssuer } from './jwt-issuer.js';
import { IdentityResolver, type SessionIdentity, type Suspensions } from './resolve-identity.js';

/** Durations were checked by the config schema; a bad one here is a bug, not user input. */
function ms(text: string): number {
  const v = parseDuration(text);
  if (v === undefined) throw new Error(`not a duration: ${text}`);
  return v;
}

export function jwtIssuers(config: Config): JwtIssuer[] {
  return config.identity.jwt.map((j) => ({
    issuer: j.issuer,
    jwksUri: j.jwks_uri,
    audiences: j.audiences,
    algorithms: j.algorithms,
    groupsClaim: j.groups_claim,
    assumeEmailVerified: j.assume_email_verified,
    clockSkewSeconds: Math.round(ms(j.clock_skew) / 1000),
    jwksCooldownMs: ms(j.jwks_cooldown),
    jwksTimeoutMs: ms(j.jwks_timeout),
    jwksRefreshMs: ms(j.jwks_refresh),
    jwksMinIntervalMs: ms(j.jwks_min_interval),
    jwksMaxStaleMs: ms(j.jwks_max_stale),
  }));
}

export function identityFromConfig(config: Config, overrides: Partial<JwtVerifierOptions> = {}, sessions?: SessionIdentity, suspensions?: Suspensions): IdentityResolver {
  const verifier = new JwtVerifier(jwtIssuers(config), {
    maxTokenBytes: config.identity.max_token_bytes,
    cacheSize: config.identity.token_cache_size,
    cacheMaxTtlMs: ms(config.identity.token_cache_max_ttl),
    maxVerifications: config.identity.verify_concurrency,
    ...overrides,
  });
  return new IdentityResolver(verifier, sessions, suspensions);
}

/** Every issuer Verdict verifies identities of: the JWT issuers and the OIDC login issuer. */
export function configuredIssuers(config: Config): string[] {
  const out = config.identity.jwt.map((j) => j.issuer);
  if (config.identity.oidc && !out.includes(config.identity.oidc.issuer)) out.push(config.identity.oidc.issuer);
  return out;
}

/**
 * The issuers a route without `issuers` trusts: `identity.default_issuers`, else the first
 * configured JWT issuer, else the OIDC issuer. One issuer by default, so that `sub: alice`
 * of a second IdP never passes `user is alice` written for the first. Undefined only when
 * no issuer is configured (no identity can exist then, except in `verdict test`).
 */
export function defaultIssuers(config: Config): ReadonlySet<string> | undefined {
  if (config.identity.default_issuers) return new Set(config.identity.default_issuers);
  const first = config.identity.jwt[0]?.issuer ?? config.identity.oidc?.issuer;
  return first === undefined ? undefined : new Set([first]);
}

export { ms as durationMs };
