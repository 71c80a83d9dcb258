import type { IdentityResult } from '../identity/identity-result.js';
import type { Decision } from '../policy/decision.js';
import type { RequestFacts } from '../request/facts.js';
import { denyBody, type LoginProblemPage } from './deny-body.js';
import { withoutCookies } from '../session/cookies.js';
import { ASSERTION_HEADER, DECISION_ID_HEADER, identityHeaders, spoofedHeaders } from './identity-headers.js';

/** What one decision produced, as the transports need it. */
export interface CheckOutcome {
  readonly decisionId: string;
  readonly decision: Decision;
  readonly identity: IdentityResult;
  readonly facts: RequestFacts | undefined;
  /** Headers for the client on a deny: `location` and `set-cookie` of the login flow. */
  readonly extraHeaders?: readonly [string, string][] | undefined;
  /** Signed identity for the upstream (`x-verdict-jwt-assertion`), on allow. */
  readonly assertion?: string | undefined;
  /** A login that failed at the IdP: the page browsers get instead of the generic deny page. */
  readonly page?: LoginProblemPage | undefined;
}

export interface ResponseOptions {
  readonly exposeReasons: boolean;
  /** Verdict's own cookies (session, login state): never sent upstream. */
  readonly isOwnCookie?: ((name: string) => boolean) | undefined;
  /** Which `dynamic_metadata` fields Envoy gets (`response.dynamic_metadata`); default: the contract's four. */
  readonly metadata?: MetadataFields | undefined;
}

/** `response.dynamic_metadata`, resolved once at load into flags. */
export interface MetadataFields {
  readonly decisionId: boolean;
  readonly route: boolean;
  readonly decision: boolean;
  readonly reasons: boolean;
  readonly status: boolean;
  readonly user: boolean;
  readonly none: boolean;
}

export function metadataFields(names: readonly string[]): MetadataFields {
  const has = (n: string) => names.includes(n);
  return { decisionId: has('decision_id'), route: has('route'), decision: has('decision'), reasons: has('reasons'), status: has('status'), user: has('user'), none: names.length === 0 };
}

/** What Envoy's access log reads: decision id, route, decision, reasons (contract). */
export const DEFAULT_METADATA = metadataFields(['decision_id', 'route', 'decision', 'reasons']);

/** `envoy.config.core.v3.HeaderValueOption`, keepCase shape. */
interface HeaderOption {
  header: { key: string; value: string };
  append: { value: boolean };
}

// protobufjs defines the well-known google.protobuf types itself, with camelCase
// field names whatever `keepCase` says: `string_value` would be dropped silently and
// dynamic_metadata would reach Envoy empty.
type StructValue = { stringValue: string } | { numberValue: number } | { listValue: { values: StructValue[] } };

// gRPC codes in CheckResponse.status: Envoy allows only on 0 and denies on anything
// else, using denied_response for the HTTP answer. An empty response would mean allow,
// so `status` is always set.
const GRPC_OK = 0;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAVAILABLE = 14;
const GRPC_UNAUTHENTICATED = 16;

function grpcCode(status: number): number {
  if (status === 200) return GRPC_OK;
  if (status === 401) return GRPC_UNAUTHENTICATED;
  // 502: the login's IdP did not answer.
  if (status === 502 || status === 503) return GRPC_UNAVAILABLE;
  return GRPC_PERMISSION_DENIED;
}

// Envoy versions differ on the default of `append` for ext_authz headers; say it.
const overwrite = (key: string, value: string): HeaderOption => ({ header: { key, value }, append: { value: false } });
const str = (s: string): StructValue => ({ stringValue: s });

const ALLOW = str('allow');
const DENY = str('deny');

function metadata(o: CheckOutcome, m: MetadataFields): { fields: Record<string, StructValue> } | undefined {
  if (m.none) return undefined;
  const fields: Record<string, StructValue> = {};
  if (m.decisionId) fields.decision_id = str(o.decisionId);
  if (m.decision) fields.decision = o.decision.allow ? ALLOW : DENY;
  if (m.status) fields.status = { numberValue: o.decision.status };
  if (m.reasons) fields.reasons = { listValue: { values: o.decision.reasons.map(str) } };
  if (m.route && o.decision.route !== undefined) fields.route = str(o.decision.route);
  if (m.user && o.identity.kind === 'principal') fields.user = str(o.identity.principal.subject);
  return { fields };
}

/** Whether two outcomes give the same CheckResponse (it is built from these fields only). */
export function sameOutcome(a: CheckOutcome, b: CheckOutcome): boolean {
  return a.decisionId === b.decisionId && a.decision === b.decision && a.identity === b.identity && a.facts === b.facts && a.extraHeaders === b.extraHeaders && a.assertion === b.assertion && a.page === b.page;
}

/** `WWW-Authenticate` for a 401 (RFC 6750), naming a rejected token as such. */
export function wwwAuthenticate(o: CheckOutcome): string {
  return o.identity.kind === 'invalid' && o.identity.reason === 'invalid-token' ? 'Bearer realm="verdict", error="invalid_token"' : 'Bearer realm="verdict"';
}

/**
 * On allow: the identity headers to set upstream, and the client's `x-verdict-*` to
 * strip. Verdict's own cookies are cut out of the `cookie` header sent upstream.
 */
export function allowHeaders(o: CheckOutcome, options: ResponseOptions): { set: [string, string][]; remove: string[]; upstreamCookie: string | undefined } {
  const principal = o.identity.kind === 'principal' ? o.identity.principal : undefined;
  const set = identityHeaders(principal, o.decisionId);
  if (o.assertion) set.push([ASSERTION_HEADER, o.assertion]);
  const remove = o.facts ? spoofedHeaders(o.facts.headers, set) : [];
  const cookie = o.facts?.headers.get('cookie');
  // The cookie header the upstream should get ('' for none), when it differs from the request's.
  const upstreamCookie = cookie !== undefined && options.isOwnCookie ? (withoutCookies(cookie, options.isOwnCookie) ?? '') : undefined;
  return { set, remove, upstreamCookie };
}

/** On deny: what the client gets, in gRPC and HTTP modes alike. */
export function denyAnswer(o: CheckOutcome, options: ResponseOptions): { status: number; headers: [string, string][]; body: string } {
  const d = o.decision;
  const body = denyBody(d, o.decisionId, o.facts?.headers.get('accept'), options.exposeReasons, o.page);
  const headers: [string, string][] = [
    [DECISION_ID_HEADER, o.decisionId],
    ['content-type', body.contentType],
    ['cache-control', 'no-store'],
  ];
  if (d.status === 401) headers.push(['www-authenticate', wwwAuthenticate(o)]);
  // Verdict's pages are never framed: framed (from a sibling subdomain, which is same-site for
  // the Lax session cookie under cookie_domain) the logout page's button is one click away.
  if (body.contentType.startsWith('text/html')) headers.push(['content-security-policy', "frame-ancestors 'none'"], ['x-frame-options', 'DENY']);
  if (o.extraHeaders) headers.push(...o.extraHeaders);
  return { status: d.status, headers, body: body.body };
}

/** Decision → `envoy.service.auth.v3.CheckResponse` (keepCase shape). Pure. */
export function checkResponse(o: CheckOutcome, options: ResponseOptions): Record<string, unknown> {
  const dynamic_metadata = metadata(o, options.metadata ?? DEFAULT_METADATA);
  if (o.decision.allow) {
    const { set, remove, upstreamCookie } = allowHeaders(o, options);
    const cookie = o.facts?.headers.get('cookie');
    if (upstreamCookie === '') remove.push('cookie');
    else if (upstreamCookie !== undefined && upstreamCookie !== cookie) set.push(['cookie', upstreamCookie]);
    return {
      status: { code: GRPC_OK },
      ok_response: { headers: set.map(([k, v]) => overwrite(k, v)), headers_to_remove: remove },
      dynamic_metadata,
    };
  }
  const deny = denyAnswer(o, options);
  return {
    status: { code: grpcCode(deny.status), message: o.decision.reasons.join(',') },
    denied_response: { status: { code: deny.status }, headers: deny.headers.map(([k, v]) => overwrite(k, v)), body: deny.body },
    dynamic_metadata,
  };
}
