import type { RequestFacts } from './facts.js';
import { PROXY_CLEARED_HEADERS, isIdentityHeaderName } from './identity-header-names.js';
import type { FactsResult } from './from-check-request.js';
import { normalizeRequestHost } from './normalize-host.js';
import { methodOverrides } from './method-override.js';
import { normalizePath } from './normalize-path.js';
import type { TrustCheck } from './trusted-proxies.js';

/** An authorization subrequest as the HTTP server received it. */
export interface HttpAuthzRequest {
  readonly method: string;
  /** Path and query as received (`req.url`). */
  readonly url: string;
  /** Node's headers: names lower case, repeated ones as arrays. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly peerIp: string | undefined;
  readonly peerPort: number | undefined;
  /**
   * Node's `rawHeaders` (name, value, name, value, …): Node keeps only the first of a
   * repeated `Authorization` or `Host` in `headers`, so repeats are seen only here.
   */
  readonly rawHeaders?: readonly string[];
}

export interface HttpFactsOptions {
  readonly trusted: TrustCheck;
}

export const EXT_AUTHZ_PREFIX = '/ext-authz';

/**
 * Headers that name one thing about the request: the credential, the host, and the
 * forwarded description of the original request. Sent twice, proxy and Verdict (or the
 * upstream) may each read another copy, so the request is refused (400), as gRPC mode
 * refuses the joined value.
 */
const SINGLE_HEADERS = new Set(['authorization', 'host', 'x-original-url', 'x-original-method', 'x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-uri']);

function repeatedSingleHeader(req: HttpAuthzRequest): string | undefined {
  const raw = req.rawHeaders;
  if (raw === undefined) return undefined;
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!SINGLE_HEADERS.has(name)) continue;
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

/**
 * A client-sent header that reads as an identity header but is not one of the names the
 * documented proxy configs overwrite or clear: `X_Verdict_User`, `Tailscale_User_Login`
 * (`_` read as `-`), or an unknown `x-verdict-*`/`tailscale-*`. A forward-auth proxy
 * cannot remove such a header by pattern (nginx, Traefik) and no legitimate client sends
 * one, so forward-auth refuses the request instead of letting it reach the upstream.
 */
function unstrippableIdentityHeader(headers: Map<string, string>): string | undefined {
  for (const name of headers.keys()) if (isIdentityHeaderName(name) && !PROXY_CLEARED_HEADERS.has(name)) return name;
  return undefined;
}

function headerMap(h: HttpAuthzRequest['headers']): Map<string, string> {
  const out = new Map<string, string>();
  for (const k in h) {
    const v = h[k];
    if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(',') : v);
  }
  return out;
}

/** The client as the trusted proxy in front reported it: the last `x-forwarded-for` hop. */
function forwardedClient(headers: Map<string, string>): string | undefined {
  const xff = headers.get('x-forwarded-for');
  if (xff) {
    const last = xff.split(',').at(-1)?.trim();
    if (last) return last;
  }
  return headers.get('x-real-ip')?.trim() || undefined;
}

interface Original {
  method: string;
  scheme: string;
  host: string;
  target: string;
}

/**
 * HTTP modes select routes by their `match` blocks only: a route id in a header could be
 * chosen by the client, since these proxies pass the client's headers through.
 */
function build(original: Original, headers: Map<string, string>, sourceIp: string | undefined, sourcePort: number | undefined): FactsResult {
  const host = normalizeRequestHost(original.host);
  const p = normalizePath(original.target);
  const q = original.target.indexOf('?');
  const facts: RequestFacts = {
    // Upper-cased like in gRPC mode: a deny on DELETE also catches `delete`.
    method: original.method.toUpperCase(),
    methodOverrides: p.ok ? methodOverrides(original.method.toUpperCase(), headers, p.query) : [],
    scheme: original.scheme,
    host: host ?? '',
    path: p.ok ? p.path : q < 0 ? original.target : original.target.slice(0, q),
    query: p.ok ? p.query : '',
    headers,
    sourceIp,
    sourcePort,
    peerIp: undefined,
    destinationIp: undefined,
    requestId: headers.get('x-request-id') || undefined,
    routeId: undefined,
    protocol: undefined,
  };
  if (original.method === '' || !/^[A-Za-z]+$/.test(original.method)) return { ok: false, reason: 'bad-request', detail: 'no usable original method', facts, rawPath: original.target };
  if (host === undefined || host === '') return { ok: false, reason: 'bad-request', detail: 'no usable original host', facts, rawPath: original.target };
  if (!p.ok) return { ok: false, reason: 'invalid-path', detail: p.detail, facts, rawPath: original.target };
  return { ok: true, facts, rawPath: original.target };
}

function refuse(detail: string, headers: Map<string, string>, req: HttpAuthzRequest): FactsResult {
  const facts: RequestFacts = {
    method: '', methodOverrides: [], scheme: '', host: '', path: '', query: '', headers,
    sourceIp: req.peerIp, sourcePort: req.peerPort, peerIp: undefined, destinationIp: undefined, requestId: undefined, routeId: undefined, protocol: undefined,
  };
  return { ok: false, reason: 'bad-request', detail, facts, rawPath: '' };
}

/**
 * Envoy `http_service` with `path_prefix: /ext-authz`: the subrequest carries the
 * original method, `/ext-authz<original path>` and `:authority` = the original host.
 * `x-forwarded-for`/`-proto` count only from a trusted peer.
 */
export function factsFromEnvoyHttp(req: HttpAuthzRequest, options: HttpFactsOptions): FactsResult {
  const headers = headerMap(req.headers);
  const repeated = repeatedSingleHeader(req);
  if (repeated !== undefined) return refuse(`repeated ${repeated} header`, headers, req);
  let target = req.url.slice(EXT_AUTHZ_PREFIX.length);
  if (target === '' || target.startsWith('?')) target = `/${target}`;
  const trusted = options.trusted(req.peerIp);
  return build(
    { method: req.method, scheme: trusted ? (headers.get('x-forwarded-proto') ?? '') : '', host: headers.get('host') ?? '', target },
    headers,
    trusted ? (forwardedClient(headers) ?? req.peerIp) : req.peerIp,
    trusted ? undefined : req.peerPort,
  );
}

/** `scheme://host[:port]/path?query` split by hand: the path must never go through WHATWG URL. */
function splitOriginalUrl(url: string): { scheme: string; host: string; target: string } | undefined {
  // The target must start with `/`, as every origin-form request target does. nginx builds the
  // URL from the client's Host and the raw target (`$scheme://$http_host$request_uri`) and
  // accepts `Host: app.example.com?`: read as a query, `/admin` would have been decided as
  // `/` with query `/admin`, while the upstream got `/admin`.
  const m = /^(https?):\/\/([^/?#\\@\s]+)(\/[^\s#]*)?$/i.exec(url);
  if (!m) return undefined;
  return { scheme: m[1]!.toLowerCase(), host: m[2]!, target: m[3] ?? '/' };
}

/**
 * nginx `auth_request` (`X-Original-URL`, `X-Original-Method`) and Caddy/Traefik
 * `forward_auth` (`X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`). These headers describe
 * the original request only when a trusted proxy set them; from anyone else, or when
 * missing or contradicting each other, the request is refused, never guessed from `Host`.
 */
export function factsFromForwardAuth(req: HttpAuthzRequest, options: HttpFactsOptions): FactsResult {
  const headers = headerMap(req.headers);
  if (!options.trusted(req.peerIp)) return refuse('forwarded headers from a peer not in http.trusted_proxies', headers, req);
  const repeated = repeatedSingleHeader(req);
  if (repeated !== undefined) return refuse(`repeated ${repeated} header`, headers, req);
  const variant = unstrippableIdentityHeader(headers);
  if (variant !== undefined) return refuse(`client-sent header ${variant} reads as an identity header the proxy cannot strip`, headers, req);

  const originalUrl = headers.get('x-original-url');
  const fwd = {
    method: headers.get('x-forwarded-method'),
    proto: headers.get('x-forwarded-proto'),
    host: headers.get('x-forwarded-host'),
    uri: headers.get('x-forwarded-uri'),
  };
  let original: Original | undefined;
  if (originalUrl !== undefined) {
    const u = splitOriginalUrl(originalUrl);
    if (!u) return refuse('X-Original-URL is not an absolute http(s) URL', headers, req);
    const method = headers.get('x-original-method') ?? fwd.method;
    if (!method) return refuse('X-Original-Method (or X-Forwarded-Method) is missing', headers, req);
    // Both styles present: they must describe the same request.
    if ((fwd.host !== undefined && normalizeRequestHost(fwd.host) !== normalizeRequestHost(u.host)) || (fwd.uri !== undefined && fwd.uri !== u.target) || (fwd.method !== undefined && fwd.method !== method) || (fwd.proto !== undefined && fwd.proto.toLowerCase() !== u.scheme)) {
      return refuse('X-Original-URL and X-Forwarded-* disagree', headers, req);
    }
    original = { method, scheme: u.scheme, host: u.host, target: u.target };
  } else {
    if (!fwd.method || !fwd.host || !fwd.uri) return refuse('X-Forwarded-Method, -Host and -Uri (or X-Original-URL) are required', headers, req);
    if (!fwd.uri.startsWith('/')) return refuse('X-Forwarded-Uri does not start with /', headers, req);
    original = { method: fwd.method, scheme: (fwd.proto ?? '').toLowerCase(), host: fwd.host, target: fwd.uri };
  }
  return build(original, headers, forwardedClient(headers) ?? req.peerIp, undefined);
}

/**
 * A browser request for Verdict's own pages (login, callback, logout), proxied to the HTTP
 * port as it is (nginx `location /.verdict/`): the host is the request's own `Host`.
 */
export function factsFromDirect(req: HttpAuthzRequest, options: HttpFactsOptions): FactsResult {
  const headers = headerMap(req.headers);
  const repeated = repeatedSingleHeader(req);
  if (repeated !== undefined) return refuse(`repeated ${repeated} header`, headers, req);
  const trusted = options.trusted(req.peerIp);
  return build(
    { method: req.method, scheme: trusted ? (headers.get('x-forwarded-proto') ?? '') : '', host: headers.get('host') ?? '', target: req.url },
    headers,
    trusted ? (forwardedClient(headers) ?? req.peerIp) : req.peerIp,
    trusted ? undefined : req.peerPort,
  );
}
