import type { Principal } from './principal.js';

/** What a credential yielded: nothing presented, a verified principal, a refusal, or no answer (outage). */
export type IdentityResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'principal'; readonly principal: Principal }
  /** `detail` says why, for the audit log; the client only learns the reason code. */
  | { readonly kind: 'invalid'; readonly reason: 'invalid-token' | 'invalid-session' | 'user-suspended'; readonly detail: string }
  /**
   * The credential could not be checked now: its issuer's keys cannot be fetched, the
   * session store does not answer (`identity-unavailable`), or the check was shed under
   * load (`overloaded`). Never a verdict on the credential itself: answered with 503.
   */
  | { readonly kind: 'unavailable'; readonly reason: 'identity-unavailable' | 'overloaded'; readonly detail: string };

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

export function identityUnavailable(detail: string): IdentityResult {
  return { kind: 'unavailable', reason: 'identity-unavailable', detail };
}

export function overloaded(detail: string): IdentityResult {
  return { kind: 'unavailable', reason: 'overloaded', detail };
}

/** The audit log's `verdict.identity_error`: why a credential gave no identity. */
export function identityError(r: IdentityResult): string | undefined {
  return r.kind === 'invalid' || r.kind === 'unavailable' ? r.detail : undefined;
}
