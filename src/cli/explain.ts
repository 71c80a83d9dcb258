import { existsSync, readFileSync } from 'node:fs';
import { readAuditLines } from '../audit/read-records.js';
import type { AuditRecord } from '../audit/record.js';
import { checkRequestFromJson, checkRequestJsonProblems } from '../envoy/check-request-json.js';
import { describeError } from '../errors.js';
import { traceDecision, type DecisionTrace } from '../explain/trace.js';
import { defaultIssuers, identityFromConfig } from '../identity/from-config.js';
import { NO_IDENTITY, identityError, type IdentityResult } from '../identity/identity-result.js';
import type { Principal } from '../identity/principal.js';
import type { TailnetIdentity } from '../identity/tailnet-identity.js';
import { denial, identityUnavailableDecision, internalError, type Decision } from '../policy/decision.js';
import { evaluate, trustedIssuers } from '../policy/evaluate.js';
import type { PolicySet } from '../policy/policy-set.js';
import { replayInput } from '../replay/record-input.js';
import { factsFromCheckRequest } from '../request/from-check-request.js';
import type { RequestFacts } from '../request/facts.js';
import { err, loadForCommand, out, outText } from './io.js';

export interface ExplainArgs {
  readonly config: string | undefined;
  readonly request: string | undefined;
  readonly now: string | undefined;
  readonly identity: string | undefined;
  readonly decisionId: string | undefined;
  readonly audit: readonly string[];
  readonly format: string | undefined;
}

/** Where the identity came from: a verified credential in the request, `--identity` (asserted, not verified), or an audit record. */
type IdentitySource = 'request' | 'asserted' | 'audit-record';

class UsageError extends Error {}

function routeIssuers(policy: PolicySet, route: string | undefined, defaults: ReadonlySet<string> | undefined): string[] | null {
  const r = route === undefined ? undefined : policy.byId.get(route);
  const set = r ? trustedIssuers(r, defaults) : defaults;
  return set ? [...set] : null;
}

/** `--identity FILE|JSON`: a principal stated, not proven; the output marks it as asserted. */
/**
 * An identity given with `--identity`. Without `iss` it is taken to come from the first default
 * issuer, as `verdict test` does: "what if bob asked" means bob with a token of the IdP you
 * configured, not an identity no route trusts (which would answer 401 issuer-untrusted).
 */
function assertedPrincipal(v: string, defaultIssuer: string | undefined): Principal {
  let text = v;
  if (!v.trimStart().startsWith('{')) {
    if (!existsSync(v)) throw new UsageError(`--identity: ${v} is neither a JSON object nor a file`);
    text = readFileSync(v, 'utf8');
  }
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`--identity: not JSON: ${(e as Error).message}`);
  }
  const sub = j.sub ?? j.user;
  if (typeof sub !== 'string' || sub === '') throw new UsageError('--identity: needs "sub" (or "user"): the subject; optional "email", "groups", "iss", "claims", "auth_time"');
  const groups = j.groups ?? [];
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string')) throw new UsageError('--identity: "groups" must be an array of strings');
  if (j.email !== undefined && typeof j.email !== 'string') throw new UsageError('--identity: "email" must be a string');
  const claims = (j.claims ?? {}) as Record<string, unknown>;
  if (typeof claims !== 'object' || Array.isArray(claims)) throw new UsageError('--identity: "claims" must be an object');
  return {
    method: 'jwt',
    issuer: typeof (j.iss ?? j.issuer) === 'string' ? ((j.iss ?? j.issuer) as string) : (defaultIssuer ?? 'asserted'),
    subject: sub,
    email: j.email as string | undefined,
    groups: groups as string[],
    claims: { ...claims, sub, ...(j.email !== undefined ? { email: j.email } : {}), groups },
    authTime: typeof j.auth_time === 'number' ? j.auth_time : undefined,
    expiresAt: undefined,
  };
}

function parseTime(v: string, what: string): number {
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`${what} is not a time (RFC 3339, e.g. 2026-11-30T08:00:00Z): ${v}`);
  return t;
}

/** The request's own time (`attributes.request.time`), proto3 JSON (RFC 3339) or {seconds, nanos}. */
function requestTime(json: unknown): number | undefined {
  const t = (json as { attributes?: { request?: { time?: unknown } } } | undefined)?.attributes?.request?.time;
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (t && typeof t === 'object') {
    const s = Number((t as { seconds?: unknown }).seconds);
    const n = Number((t as { nanos?: unknown }).nanos ?? 0);
    return Number.isFinite(s) && s > 0 ? s * 1000 + Math.floor(n / 1e6) : undefined;
  }
  return undefined;
}

interface Case {
  facts: RequestFacts;
  ok: boolean;
  early?: Decision;
  principal: Principal | undefined;
  identity: IdentityResult;
  identitySource: IdentitySource | undefined;
  tailnet: TailnetIdentity | undefined;
  now: number;
  nowSource: string;
  recorded?: AuditRecord;
  missing?: readonly string[];
}

async function fromRecord(files: readonly string[], id: string): Promise<{ record: AuditRecord; headers: ReadonlySet<string> | undefined }> {
  let headers: ReadonlySet<string> | undefined;
  for await (const { text } of readAuditLines(files)) {
    if (!text.includes(id)) {
      if (text.includes('"event.action":"start"')) {
        const r = JSON.parse(text) as AuditRecord;
        headers = new Set(Array.isArray(r['verdict.audit_headers']) ? (r['verdict.audit_headers'] as string[]) : []);
      }
      continue;
    }
    const r = JSON.parse(text) as AuditRecord;
    if (r['verdict.decision_id'] === id && r['event.action'] === 'authorize') return { record: r, headers };
  }
  throw new UsageError(`--decision-id ${id}: no decision record with this id in ${files.join(', ')}`);
}

function principalText(p: Principal): string {
  return `${p.subject}${p.email ? ` <${p.email}>` : ''}, groups [${p.groups.join(', ')}], issuer ${p.issuer}`;
}

function textReport(r: Record<string, unknown>, trace: DecisionTrace): string[] {
  const L: string[] = [];
  L.push(`decision: ${String(r.decision).toUpperCase()} ${r.status}${r.route ? ` on route ${r.route}` : ''} — reasons: ${(r.reasons as string[]).join(', ') || '-'}`);
  if (r.detail) L.push(`detail:   ${r.detail}`);
  L.push(`request:  ${r.method} ${r.host}${r.path}`);
  L.push(`time:     ${r.now} (${r.now_source})`);
  const id = r.identity as Record<string, unknown> | null;
  if (id) L.push(`identity: ${id.source === 'asserted' ? 'ASSERTED with --identity (not verified): ' : id.source === 'audit-record' ? 'as recorded: ' : 'verified: '}${id.text as string}`);
  else L.push(`identity: none${r.identity_error ? ` (refused: ${r.identity_error})` : ''}`);
  if (Array.isArray(r.trusted_issuers)) L.push(`trusted issuers (identity criteria): ${(r.trusted_issuers as string[]).join(', ')}`);
  const rec = r.recorded as Record<string, unknown> | undefined;
  if (rec) {
    L.push(`recorded: ${String(rec.decision).toUpperCase()} ${rec.status} — reasons: ${(rec.reasons as string[]).join(', ')} at ${rec.time} (policy ${String(rec.policy_hash).slice(0, 12)}…)${r.same_as_recorded ? '; the policy in force decides the same' : '; the policy in force decides DIFFERENTLY'}`);
    if ((r.missing as string[] | undefined)?.length) L.push(`          the record lacks: ${(r.missing as string[]).join('; ')}`);
  }
  L.push('', 'routes (policy order):');
  for (const rt of trace.routes) {
    L.push(`  ${rt.selected ? '→' : ' '} ${rt.id.padEnd(24)} ${rt.why}`);
    for (const m of rt.match) L.push(`      ${m.ok ? 'ok ' : 'no '} ${m.part} ${JSON.stringify(m.wants)} vs ${JSON.stringify(m.value)}`);
  }
  if (trace.rules.length > 0) {
    L.push('', `rules of ${r.route} (file order; deny is checked first):`);
    const base = trace.routes.find((rt) => rt.selected)?.pointer ?? '';
    for (const c of trace.rules) {
      const at = c.pointer.slice(base.length + 1);
      const input = c.input === undefined ? '' : ` read ${JSON.stringify(c.input)}`;
      const wants = c.wants === undefined || c.wants === true ? '' : ` ${JSON.stringify(c.wants)}`;
      L.push(`  ${at}${wants}:${input} → ${c.outcome}${c.reasons.length ? ` (${c.reasons.join(', ')})` : ''}`);
    }
  }
  return L;
}

/**
 * One decision explained, with no server and no audit record: the decision, then every route
 * against the request and every rule node of the deciding route with what it read and its
 * outcome. The request comes from a CheckRequest file or from a recorded decision.
 */
export async function explain(a: ExplainArgs): Promise<number> {
  const format = a.format ?? 'json';
  if (format !== 'json' && format !== 'text') {
    err(`verdict explain: --format "${format}" is not one of: text, json`);
    return 2;
  }
  if ((a.request === undefined) === (a.decisionId === undefined)) {
    err('verdict explain: give --request FILE, or --decision-id ID with --audit FILE...');
    return 2;
  }
  if (a.decisionId !== undefined && a.audit.length === 0) {
    err('verdict explain: --decision-id needs the trail: --audit FILE... (oldest first)');
    return 2;
  }
  const loaded = loadForCommand(a.config);
  if (!loaded) return 2;
  const { config, policy } = loaded;
  let c: Case;
  try {
    const asserted = a.identity === undefined ? undefined : assertedPrincipal(a.identity, [...(defaultIssuers(config) ?? [])][0]);
    const nowArg = a.now === undefined ? undefined : parseTime(a.now, '--now');
    if (a.request !== undefined) {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(a.request, 'utf8'));
      } catch (e) {
        throw new UsageError(`${a.request}: cannot read the request: ${(e as Error).message}`);
      }
      const problems = checkRequestJsonProblems(json);
      if (problems.length > 0) throw new UsageError(`${a.request}: not an Envoy CheckRequest in proto3 JSON: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`);
      const own = requestTime(json);
      const now = nowArg ?? own ?? Date.now();
      const built = factsFromCheckRequest(checkRequestFromJson(json), { xffTrustedHops: config.request.xff_trusted_hops });
      c = { facts: built.facts, ok: built.ok, principal: undefined, identity: NO_IDENTITY, identitySource: undefined, tailnet: undefined, now, nowSource: nowArg !== undefined ? '--now' : own !== undefined ? "the request's own time" : 'now' };
      if (!built.ok) c.early = denial(400, [built.reason], built.facts.routeId, built.detail);
      else if (asserted) {
        c.principal = asserted;
        c.identity = { kind: 'principal', principal: asserted };
        c.identitySource = 'asserted';
      } else {
        try {
          // The same identity path as serve: an unreachable JWKS or IdP is an outage here too.
          c.identity = await identityFromConfig(config).resolve(built.facts, now);
          if (c.identity.kind === 'principal') {
            c.principal = c.identity.principal;
            c.identitySource = 'request';
          }
        } catch (e) {
          c.early = internalError(`identity could not be checked: ${describeError(e)}`, built.facts.routeId);
        }
      }
    } else {
      const { record, headers } = await fromRecord(a.audit, a.decisionId!);
      const input = replayInput(record, { headers });
      const principal = asserted ?? input.principal;
      c = {
        facts: input.facts,
        ok: true,
        principal,
        identity: principal ? { kind: 'principal', principal } : input.identityError ? { kind: 'invalid', reason: input.identityError as 'invalid-token', detail: String(record['verdict.identity_error'] ?? input.identityError) } : NO_IDENTITY,
        identitySource: asserted ? 'asserted' : principal ? 'audit-record' : undefined,
        tailnet: input.tailnet,
        now: nowArg ?? input.nowMs,
        nowSource: nowArg !== undefined ? '--now' : 'the recorded time',
        recorded: record,
        missing: [...input.missing],
      };
    }
  } catch (e) {
    err(`verdict explain: ${(e as Error).message}`);
    return 2;
  }

  const defaults = defaultIssuers(config);
  const ctx = { facts: c.facts, principal: c.principal, tailnet: c.tailnet, now: c.now, trustedIssuers: defaults };
  const evaluated =
    c.early ??
    evaluate(policy, c.facts, c.principal, c.now, {
      requireRouteId: config.policies.require_route_id,
      identityError: c.identity.kind === 'invalid' ? c.identity.reason : undefined,
      tailnet: c.tailnet,
      defaultIssuers: defaults,
    });
  // As in serve: a credential that could not be checked (JWKS outage) is a 503, not a 401.
  const decision = c.identity.kind === 'unavailable' ? identityUnavailableDecision(evaluated, c.identity.reason, c.identity.detail) : evaluated;
  const trace: DecisionTrace = c.ok ? traceDecision(policy, ctx, config.policies.require_route_id) : { routes: [], rules: [] };
  const p = c.principal;
  const rec = c.recorded;
  const report: Record<string, unknown> = {
    decision: decision.allow ? 'allow' : 'deny',
    status: decision.status,
    route: decision.route ?? null,
    reasons: decision.reasons,
    // Whose identities the deciding route's identity criteria match (null: any; no issuer configured).
    trusted_issuers: routeIssuers(policy, decision.route, defaults),
    identity: p ? { source: c.identitySource, asserted: c.identitySource === 'asserted', method: p.method, issuer: p.issuer, user: p.subject, email: p.email ?? null, groups: p.groups } : null,
    identity_error: identityError(c.identity),
    detail: decision.detail,
    method: c.facts.method,
    path: c.facts.path,
    host: c.facts.host,
    now: new Date(c.now).toISOString(),
    now_source: c.nowSource,
    policy_hash: policy.hash,
    recorded: rec
      ? { decision: rec['verdict.decision'], status: rec['http.response.status_code'], reasons: rec['verdict.reasons'], route: rec['verdict.route'] ?? null, time: rec.time, policy_hash: rec['verdict.policy_hash'] }
      : undefined,
    same_as_recorded: rec ? rec['verdict.decision'] === (decision.allow ? 'allow' : 'deny') && rec['http.response.status_code'] === decision.status : undefined,
    missing: c.missing && c.missing.length > 0 ? c.missing : undefined,
    trace,
  };
  if (format === 'json') out(JSON.stringify(report, null, 2));
  else {
    if (p) (report.identity as Record<string, unknown>).text = principalText(p);
    for (const l of textReport(report, trace)) outText(l);
  }
  return 0;
}
