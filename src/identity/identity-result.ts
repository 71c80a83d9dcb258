import type { Principal } from './principal.js';

/** What a credential yielded: nothing presented, a verified principal, or a refusal. */
export type IdentityResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'principal'; readonly principal: Principal }
  /** `detail` says why, for the audit log; the client only learns the reason code. */
  | { readonly kind: 'invalid'; readonly reason: 'invalid-token' | 'invalid-session' | 'user-suspended'; readonly detail: string };

export const NO_IDENTITY: IdentityResult = Object.freeze({ kind: 'none' });

export function invalidToken(detail: string): IdentityResult {
  return { kind: 'invalid', reason: 'invalid-token', detail };
}

/** A verified credential of an identity an admin suspended (any credential: token or session). */
export function suspended(detail: string): IdentityResult {
  return { kind: 'invalid', reason: 'user-suspended', detail };
}

export function invalidSession(detail: string): IdentityResult {
  return { kind: 'invalid', reason: 'invalid-session', detail };
}
