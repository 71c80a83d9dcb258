import type { JWTPayload } from 'jose';
import type { Principal } from './principal.js';

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/**
 * Claims that were verified (signature, issuer, audience, times) → Principal. An
 * email counts only when the issuer did not say it is unverified.
 */
export function claimsToPrincipal(method: Principal['method'], payload: JWTPayload, groupsClaim: string): Principal | string {
  if (typeof payload.sub !== 'string' || payload.sub === '') return 'token has no sub claim';
  if (typeof payload.iss !== 'string') return 'token has no iss claim';
  const email = typeof payload.email === 'string' && payload.email_verified !== false ? payload.email : undefined;
  const authTime = typeof payload.auth_time === 'number' ? payload.auth_time : typeof payload.iat === 'number' ? payload.iat : undefined;
  return Object.freeze({
    method,
    issuer: payload.iss,
    subject: payload.sub,
    email,
    groups: Object.freeze(stringList(payload[groupsClaim])),
    claims: Object.freeze({ ...payload }),
    authTime,
    expiresAt: typeof payload.exp === 'number' ? payload.exp : undefined,
  });
}
