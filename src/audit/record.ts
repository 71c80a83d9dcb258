import { identityError, type IdentityResult } from '../identity/identity-result.js';
import type { TailnetIdentity } from '../identity/tailnet-identity.js';
import type { Decision } from '../policy/decision.js';
import type { RequestFacts } from '../request/facts.js';
import { sessionHash } from './session-hash.js';

/** One audit record: flat keys (OpenTelemetry names where one exists, `verdict.*` else). */
export type AuditRecord = Record<string, unknown>;

export interface DecisionRecordInput {
  readonly decisionId: string;
  /** W3C ids of the decision's `verdict.check` span, when tracing is on. */
  readonly traceId?: string | undefined;
  readonly spanId?: string | undefined;
  readonly timeMs: number;
  readonly transport: 'grpc' | 'http';
  readonly decision: Decision;
  readonly facts: RequestFacts | undefined;
  /** The raw path as received, recorded when it differs from the normalized one (query removed). */
  readonly rawPath: string | undefined;
  readonly identity: IdentityResult;
  readonly tailnet?: TailnetIdentity | undefined;
  readonly policyHash: string | undefined;
  readonly durationMs: number;
  readonly includeQuery: boolean;
  /** Request headers to record, by lower-case name (never credentials: config refuses them). */
  readonly includeHeaders?: readonly string[] | undefined;
  /** Claims the policy in force reads (`claim` criterion): their values are recorded for replay. */
  readonly claimNames?: readonly string[] | undefined;
}

/**
 * Record keys to drop, by configuration (`audit.redact`). The record names what was dropped
 * (`verdict.redacted`), so a reader (replay) knows a missing key was removed, not absent.
 */
export function redact(record: AuditRecord, keys: readonly string[]): AuditRecord {
  if (keys.length === 0) return record;
  const out = { ...record };
  for (const k of keys) delete out[k];
  out['verdict.redacted'] = keys;
  return out;
}

/** The values of the claims the policy reads; `null` stands for a claim the identity lacks. */
function policyClaims(claims: Readonly<Record<string, unknown>>, names: readonly string[] | undefined): Record<string, unknown> | undefined {
  if (names === undefined || names.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const n of names) out[n] = Object.hasOwn(claims, n) ? claims[n] : null;
  return out;
}

/** The raw path (query removed) when it differs from the normalized one. */
function rawPathIfDifferent(rawPath: string | undefined, f: RequestFacts | undefined): string | undefined {
  if (rawPath === undefined || f === undefined) return undefined;
  const raw = withoutQuery(rawPath);
  return raw !== f.path ? raw : undefined;
}

function withoutQuery(p: string): string {
  const q = p.indexOf('?');
  return q < 0 ? p : p.slice(0, q);
}

/**
 * Who, what, when, where, why and how of one decision. Built by copying named fields
 * only: headers, tokens and cookies are never in the input, so they cannot leak into
 * the record.
 */
export function decisionRecord(i: DecisionRecordInput): AuditRecord {
  const f = i.facts;
  const d = i.decision;
  const principal = i.identity.kind === 'principal' ? i.identity.principal : undefined;
  // Keys in sorted order, with places for what the writer and the chain set later (log.level,
  // prev_hash, seq): the chain's canonical text is then the record's own JSON.stringify,
  // without a sorting copy (chain.ts; a key added after the literal costs that copy, ~5 us).
  // Undefined values are never written.
  const r: AuditRecord = {
    'client.address': f?.sourceIp,
    'client.port': f?.sourcePort,
    'event.action': 'authorize',
    'http.request.id': f?.requestId,
    'http.request.method': f?.method || undefined,
    'http.response.status_code': d.status,
    'log.level': undefined,
    'network.protocol.name': f?.protocol,
    prev_hash: undefined,
    seq: undefined,
    'server.address': f?.host || undefined,
    'span.id': i.spanId,
    time: new Date(i.timeMs).toISOString(),
    'trace.id': i.traceId,
    'url.path': f?.path || undefined,
    'url.query': i.includeQuery && f?.query ? f.query : undefined,
    'url.scheme': f?.scheme || undefined,
    'user.email': principal?.email,
    'user.id': principal?.subject,
    'user.roles': principal && principal.groups.length > 0 ? principal.groups : undefined,
    'verdict.auth_method': principal ? principal.method : 'none',
    'verdict.auth_time': principal?.authTime,
    'verdict.claims': principal ? policyClaims(principal.claims, i.claimNames) : undefined,
    'verdict.decision': d.allow ? 'allow' : 'deny',
    'verdict.decision_id': i.decisionId,
    'verdict.detail': d.detail,
    'verdict.duration_ms': Math.round(i.durationMs * 1000) / 1000,
    // The route Envoy bound the request to (context_extensions), when it did.
    'verdict.envoy_route': f?.routeId,
    'verdict.identity_error': identityError(i.identity),
    'verdict.issuer': principal?.issuer,
    // The methods a POST was also decided as (method-override headers, `_method`), for replay.
    'verdict.method_overrides': f && f.methodOverrides.length > 0 ? f.methodOverrides : undefined,
    'verdict.policy_hash': i.policyHash,
    'verdict.raw_path': rawPathIfDifferent(i.rawPath, f),
    'verdict.reasons': d.reasons,
    'verdict.route': d.route,
    // Decided on a session's last known claims: their refresh was due, the IdP did not answer.
    'verdict.session_claims_stale': principal?.claimsStale ? true : undefined,
    // Session ids are bearer-like: the record keeps a hash that correlates, never the id.
    'verdict.session_hash': principal?.sessionId ? sessionHash(principal.sessionId) : undefined,
    'verdict.shadow.decision': d.shadow ? (d.shadow.allow ? 'allow' : 'deny') : undefined,
    'verdict.shadow.differs': d.shadow ? d.shadow.allow !== d.allow || d.shadow.status !== d.status : undefined,
    'verdict.shadow.reasons': d.shadow?.reasons,
    'verdict.shadow.status_code': d.shadow?.status,
    'verdict.tailnet.node': i.tailnet?.node,
    'verdict.tailnet.tags': i.tailnet && i.tailnet.tags.length > 0 ? i.tailnet.tags : undefined,
    'verdict.tailnet.user': i.tailnet?.user,
    'verdict.transport': i.transport,
  };
  // Configured headers come last, out of key order: such records take the chain's sorting path.
  for (const name of i.includeHeaders ?? []) {
    const v = f?.headers.get(name);
    if (v !== undefined) r[`http.request.header.${name}`] = v;
  }
  return r;
}

/** Control-plane events (start, reload, shutdown): same sink, `event.action` names them. */
export function controlRecord(action: string, timeMs: number, fields: Record<string, unknown>): AuditRecord {
  return { time: new Date(timeMs).toISOString(), 'event.action': action, ...fields };
}
