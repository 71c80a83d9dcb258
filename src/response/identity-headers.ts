import { isIdentityHeaderName } from '../request/identity-header-names.js';
import type { Principal } from '../identity/principal.js';

export const HEADER_PREFIX = 'x-verdict-';
export const DECISION_ID_HEADER = 'x-verdict-decision-id';
export const ASSERTION_HEADER = 'x-verdict-jwt-assertion';

// Claim values reach upstream headers: anything that is not a visible character or a
// space could split or smuggle headers, so such a value is dropped, not repaired.
const SAFE_VALUE = /^[\x20-\x7e\u0080-\uffff]*$/;
const safe = (v: string | undefined): string | undefined => (v !== undefined && v !== '' && SAFE_VALUE.test(v) ? v : undefined);

/** The identity headers sent upstream on allow: name → value, only those known. */
export function identityHeaders(principal: Principal | undefined, decisionId: string): [string, string][] {
  const out: [string, string][] = [];
  if (principal) {
    const user = safe(principal.subject);
    if (user) out.push(['x-verdict-user', user]);
    const email = safe(principal.email);
    if (email) out.push(['x-verdict-email', email]);
    // A group name with a comma would read as two groups downstream.
    const groups = principal.groups.filter((g) => !g.includes(',') && safe(g) !== undefined);
    if (groups.length > 0) out.push(['x-verdict-groups', groups.join(',')]);
  }
  out.push([DECISION_ID_HEADER, decisionId]);
  return out;
}

/**
 * Client-sent identity headers Verdict is not overwriting, in any spelling: every name
 * that reads as `x-verdict-*` or `tailscale-*` (an upstream might trust them) except the
 * exact names Verdict sets. Envoy must strip them.
 */
export function spoofedHeaders(requestHeaders: ReadonlyMap<string, string>, set: readonly [string, string][]): string[] {
  const out: string[] = [];
  for (const name of requestHeaders.keys()) {
    if (isIdentityHeaderName(name) && !set.some(([n]) => n === name)) out.push(name);
  }
  return out;
}
