import { allowHeaders, denyAnswer, type CheckOutcome, type ResponseOptions } from './check-response.js';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: readonly [string, string][];
  readonly body: string;
}

export const UPSTREAM_COOKIE_HEADER = 'x-verdict-upstream-cookie';

/**
 * Decision → the answer of the HTTP modes (Envoy `http_service`, forward-auth). Exactly
 * 200 allows, carrying the identity headers for the proxy to copy upstream; client-sent
 * `x-verdict-*` headers are named in `x-envoy-auth-headers-to-remove` for Envoy. The
 * request's cookies minus Verdict's own go back to Envoy as `cookie` (listed in its
 * `allowed_upstream_headers`, it replaces the request's), or removed when none is left; other
 * proxies get them as `x-verdict-upstream-cookie` to send upstream instead of `Cookie`
 * (a subrequest cannot edit the request).
 */
export function httpAnswer(o: CheckOutcome, options: ResponseOptions, envoy = false): HttpAnswer {
  if (o.decision.allow) {
    const { set, remove, upstreamCookie } = allowHeaders(o, options);
    const headers: [string, string][] = [...set, ['cache-control', 'no-store']];
    if (upstreamCookie !== undefined && envoy) {
      if (upstreamCookie === '') remove.push('cookie');
      else headers.push(['cookie', upstreamCookie]);
    } else if (upstreamCookie !== undefined) {
      headers.push([UPSTREAM_COOKIE_HEADER, upstreamCookie]);
    }
    if (remove.length > 0) headers.push(['x-envoy-auth-headers-to-remove', remove.join(',')]);
    return { status: 200, headers, body: '' };
  }
  return denyAnswer(o, options);
}
