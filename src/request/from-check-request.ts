import type { CheckRequestLike, HeaderValueLike } from './check-request.js';
import type { RequestFacts } from './facts.js';
import { normalizeRequestHost } from './normalize-host.js';
import { methodOverrides } from './method-override.js';
import { normalizePath } from './normalize-path.js';

export interface FactsOptions {
  /** Take the client address from x-forwarded-for, this many entries from the right (0: never). */
  readonly xffTrustedHops: number;
}

export type FactsResult =
  | { readonly ok: true; readonly facts: RequestFacts; readonly rawPath: string }
  /** `facts` holds what could be read, for the audit record of the refusal. */
  | { readonly ok: false; readonly reason: 'bad-request' | 'invalid-path'; readonly detail: string; readonly facts: RequestFacts; readonly rawPath: string };

function headerMap(http: NonNullable<NonNullable<CheckRequestLike['attributes']>['request']>['http']): Map<string, string> {
  const out = new Map<string, string>();
  if (!http) return out;
  const headers = http.headers;
  if (headers) {
    // Envoy sends lower-case names; lower-casing anyway keeps other senders honest.
    for (const k in headers) if (Object.hasOwn(headers, k)) out.set(k.toLowerCase(), String(headers[k]));
  }
  // Envoy sends `header_map` instead when `encode_raw_headers` is on (1.28+).
  for (const h of http.header_map?.headers ?? []) addRaw(out, h);
  return out;
}

function addRaw(out: Map<string, string>, h: HeaderValueLike): void {
  if (!h.key) return;
  const raw = h.raw_value;
  // Decoded messages carry an empty raw_value by default: only a non-empty one wins over `value`.
  const value = raw === undefined || raw === null || raw.length === 0 ? (h.value ?? '') : typeof raw === 'string' ? Buffer.from(raw, 'base64').toString('utf8') : Buffer.from(raw).toString('utf8');
  const key = h.key.toLowerCase();
  const prev = out.get(key);
  out.set(key, prev === undefined ? value : `${prev},${value}`);
}

function clientFromXff(headers: Map<string, string>, hops: number): string | undefined {
  if (hops <= 0) return undefined;
  const xff = headers.get('x-forwarded-for');
  if (!xff) return undefined;
  const list = xff.split(',').map((s) => s.trim());
  return list[list.length - hops] || undefined;
}

/**
 * CheckRequest → RequestFacts. Pure. A request without HTTP attributes (Envoy's
 * network filter) or whose path cannot be normalized safely is refused here.
 */
export function factsFromCheckRequest(req: CheckRequestLike, options: FactsOptions): FactsResult {
  const attrs = req.attributes ?? {};
  const http = attrs.request?.http ?? undefined;
  const headers = headerMap(http);
  const socket = attrs.source?.address?.socket_address;
  const port = socket?.port_value === undefined ? undefined : Number(socket.port_value);
  const routeId = attrs.context_extensions?.route;
  const rawHost = http?.host || headers.get(':authority') || headers.get('host') || '';
  const rawPath = http?.path || headers.get(':path') || '';
  // Methods are matched upper-cased: a deny on DELETE must also catch `delete`, which
  // many upstream frameworks treat as DELETE.
  const method = (http?.method || headers.get(':method') || '').toUpperCase();
  const host = normalizeRequestHost(rawHost);
  const p = normalizePath(rawPath);
  // One object shape for every request (fixed property order): keeps property access monomorphic.
  const facts: RequestFacts = {
    method,
    methodOverrides: p.ok ? methodOverrides(method, headers, p.query) : [],
    scheme: http?.scheme || headers.get(':scheme') || '',
    host: host ?? '',
    path: p.ok ? p.path : withoutQuery(rawPath),
    query: p.ok ? p.query : '',
    headers,
    sourceIp: clientFromXff(headers, options.xffTrustedHops) ?? (socket?.address || undefined),
    sourcePort: port !== undefined && Number.isInteger(port) && port > 0 ? port : undefined,
    peerIp: socket?.address || undefined,
    destinationIp: attrs.destination?.address?.socket_address?.address || undefined,
    requestId: headers.get('x-request-id') || undefined,
    routeId: routeId === undefined || routeId === '' ? undefined : routeId,
    protocol: http?.protocol || undefined,
  };
  if (!http) return { ok: false, reason: 'bad-request', detail: 'CheckRequest has no attributes.request.http (not an HTTP request)', facts, rawPath };
  if (method === '') return { ok: false, reason: 'bad-request', detail: 'request has no method', facts, rawPath };
  if (host === undefined) return { ok: false, reason: 'bad-request', detail: 'host is not a valid host name', facts, rawPath };
  if (!p.ok) return { ok: false, reason: 'invalid-path', detail: p.detail, facts, rawPath };
  return { ok: true, facts, rawPath };
}

function withoutQuery(p: string): string {
  const q = p.indexOf('?');
  return q < 0 ? p : p.slice(0, q);
}
