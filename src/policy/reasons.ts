import { CRITERIA } from './criteria/index.js';

/** `http_method` → `http-method`: reason codes are hyphenated. */
export function reasonSlug(criterion: string): string {
  return criterion.replaceAll('_', '-');
}

/** The reason a criterion yields when it is true / false (`accept`, `reject` are their own). */
export function criterionReasons(criterion: string): { ok: string; unauthorized: string } {
  if (criterion === 'accept' || criterion === 'reject') return { ok: criterion, unauthorized: criterion };
  const slug = reasonSlug(criterion);
  return { ok: `${slug}-ok`, unauthorized: `${slug}-unauthorized` };
}

/** Reasons that do not come from a single criterion. */
export const REQUEST_REASONS: Readonly<Record<string, string>> = Object.freeze({
  'user-unauthenticated': 'a criterion needs an identity and the request carries no valid one (401, or login for browsers)',
  'issuer-untrusted': 'the identity comes from an issuer the route does not trust (route `issuers`, default: the first configured issuer): no identity for its criteria (401, no login redirect)',
  'tailnet-unauthenticated': 'a tailnet criterion could not be answered: not a tailnet listener, no tailnet configured, or whois failed (401, never a match)',
  'invalid-token': 'a bearer token was presented and failed verification; it was ignored as an identity',
  'invalid-session': 'a session cookie was presented but is not valid: tampered, expired, idle, revoked, its claims refresh was refused by the IdP, or the IdP stayed unavailable past claims_refresh_grace',
  'user-suspended': 'the credential (bearer token or session) is valid but an admin suspended its (issuer, subject): it is no identity; reported beside user-unauthenticated (401)',
  'login-callback': 'the OIDC callback: the login completed and the browser is sent back (302)',
  'login-failed': 'the OIDC callback could not complete the login: no or expired login state, replay, IdP error (400/403; 502 with idp-unavailable)',
  'idp-unavailable': 'the OIDC callback could not complete the login because the IdP did not answer (token endpoint unreachable, 5xx, timeout, or the IdP redirected back with temporarily_unavailable/server_error): 502 and a page that starts a new login',
  'logout': 'the logout path: the session was revoked and the cookie cleared (302)',
  'logout-confirm': 'the logout path without proof that it comes from this origin (Sec-Fetch-Site or Origin): a page with a sign-out button is served and the session is kept (200)',
  'route-not-found': 'no route matched, the route id Envoy sent is unknown, or a route id is required and missing (404)',
  'invalid-path': 'the path could not be normalized safely: encoded slash or backslash, NUL, bad percent-encoding, climbing above / (400)',
  'bad-request': 'the request cannot be interpreted safely: no HTTP attributes, bad host, missing method (400)',
  'identity-unavailable': 'the credential could not be checked now: its issuer\'s keys cannot be fetched (JWKS outage) or the session store does not answer; the request is denied (503), not judged',
  'overloaded': 'the credential could not be verified before the check deadline (load shed, e.g. a cold start); the request is denied (503)',
  'internal-error': 'Verdict failed internally or ran out of time; the request is denied (503)',
});

/** Every reason code with its meaning; the README's table is checked against this. */
export function allReasons(): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const c of CRITERIA) {
    const { ok, unauthorized } = criterionReasons(c.name);
    if (ok === unauthorized) {
      out.set(ok, c.name === 'accept' ? 'the route is public: `accept` is always true' : '`reject` is never true');
    } else {
      out.set(ok, `\`${c.name}\` is true: ${c.summary}`);
      out.set(unauthorized, `\`${c.name}\` is false`);
    }
  }
  for (const [code, text] of Object.entries(REQUEST_REASONS)) out.set(code, text);
  return out;
}
