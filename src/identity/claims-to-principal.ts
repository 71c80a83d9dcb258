import type { JWTPayload } from 'jose';
import { foldCase } from '../policy/fold-case.js';
import type { Principal } from './principal.js';

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** How one issuer's claims become an identity. */
export interface ClaimsOptions {
  /** Claim holding the groups. */
  readonly groupsClaim: string;
  /** The issuer only ever issues verified emails: trust `email` without `email_verified: true`. */
  readonly assumeEmailVerified?: boolean;
}

/**
 * An address is an email only with exactly one `@` and something on both sides:
 * `attacker@evil.com@company.com` is not an email at company.com, nor at evil.com.
 * Emails compare case-insensitively, so the identity holds them lower-cased.
 */
export function normalizeEmail(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const at = value.indexOf('@');
  if (at <= 0 || at === value.length - 1 || value.indexOf('@', at + 1) >= 0) return undefined;
  return foldCase(value);
}

/**
 * Claims that were verified (signature, issuer, audience, times) → Principal. An email
 * counts only when the issuer vouches for it: `email_verified` is boolean `true` (a
 * string `"true"`, `1`, `null` or a missing claim do not), unless the issuer's config
 * says all its emails are verified (then only an explicit `false` drops it).
 */
export function claimsToPrincipal(method: Principal['method'], payload: JWTPayload, options: ClaimsOptions): Principal | string {
  if (typeof payload.sub !== 'string' || payload.sub === '') return 'token has no sub claim';
  if (typeof payload.iss !== 'string') return 'token has no iss claim';
  // The opt-in covers issuers that never send the claim; an explicit `false` still counts.
  const verified = payload.email_verified === true || (options.assumeEmailVerified === true && payload.email_verified !== false);
  const email = verified ? normalizeEmail(payload.email) : undefined;
  const authTime = typeof payload.auth_time === 'number' ? payload.auth_time : typeof payload.iat === 'number' ? payload.iat : undefined;
  return Object.freeze({
    method,
    issuer: payload.iss,
    subject: payload.sub,
    email,
    groups: Object.freeze(stringList(payload[options.groupsClaim])),
    claims: Object.freeze({ ...payload }),
    authTime,
    expiresAt: typeof payload.exp === 'number' ? payload.exp : undefined,
  });
}
