import { isIdentityHeaderName } from '../request/identity-header-names.js';
import type { Principal } from '../identity/principal.js';

export const HEADER_PREFIX = 'x-verdict-';
export const DECISION_ID_HEADER = 'x-verdict-decision-id';
export const ASSERTION_HEADER = 'x-verdict-jwt-assertion';

/**
 * Identity values travel as visible ASCII so that any value can be sent (a Cyrillic group,
 * an IDN email, an emoji name) and none can split or smuggle a header: every byte of the
 * UTF-8 form outside `!`…`~`, and `%` itself (plus `,` inside a group name, which would
 * read as two groups), is percent-encoded. Plain ASCII values (the usual case) are sent
 * unchanged; upstreams decode with `decodeURIComponent` (or any URL-unescape). The same
 * in gRPC and HTTP modes.
 */
const PLAIN = /^[!-$&-~]*$/;
const UTF8 = new TextEncoder();
export function encodeHeaderValue(value: string, alsoEncode = ''): string {
  if (PLAIN.test(value) && (alsoEncode === '' || ![...alsoEncode].some((c) => value.includes(c)))) return value;
  let out = '';
  for (const b of UTF8.encode(value)) {
    const c = String.fromCharCode(b);
    out += b >= 0x21 && b <= 0x7e && c !== '%' && !alsoEncode.includes(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The identity headers sent upstream on allow: name → value, only those known. */
export function identityHeaders(principal: Principal | undefined, decisionId: string): [string, string][] {
  const out: [string, string][] = [];
  if (principal) {
    if (principal.subject !== '') out.push(['x-verdict-user', encodeHeaderValue(principal.subject)]);
    if (principal.email) out.push(['x-verdict-email', encodeHeaderValue(principal.email)]);
    const groups = principal.groups.filter((g) => g !== '').map((g) => encodeHeaderValue(g, ','));
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
