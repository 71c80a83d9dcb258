import { randomUUID } from 'node:crypto';
import { decisionRecord, redact } from './audit/record.js';
import type { AuditSink } from './audit/audit-writer.js';
import { CheckDeadlines } from './check-deadlines.js';
import { describeError } from './errors.js';
import { NO_IDENTITY, type IdentityResult } from './identity/identity-result.js';
import { denial, identityUnavailableDecision, internalError, type Decision } from './policy/decision.js';
import { evaluate } from './policy/evaluate.js';
import type { PolicySet } from './policy/policy-set.js';
import type { Principal } from './identity/principal.js';
import type { TailnetIdentity } from './identity/tailnet-identity.js';
import type { RequestFacts } from './request/facts.js';
import type { FactsResult } from './request/from-check-request.js';
import type { CheckOutcome } from './response/check-response.js';
import type { LoginProblemPage } from './response/deny-body.js';
import { wantsLoginRedirect } from './session/browser.js';
import type { WebAnswer } from './session/web-sessions.js';
import type { DecisionTrace, DecisionTracing } from './telemetry/tracing.js';

/** The browser-session part of a decision (web-sessions.ts), when OIDC login is configured. */
export interface WebFlow {
  flowPath(facts: RequestFacts): 'callback' | 'logout' | 'login' | undefined;
  loginStart(facts: RequestFacts, nowMs: number): Promise<WebAnswer>;
  callback(facts: RequestFacts, nowMs: number): Promise<WebAnswer>;
  logout(facts: RequestFacts, nowMs: number): Promise<WebAnswer>;
  loginRedirect(facts: RequestFacts, nowMs: number): Promise<WebAnswer | undefined>;
}

export interface CheckDeps {
  readonly policies: { readonly current: PolicySet };
  /** `answerByMs`: when the answer must be ready (the deadline less a margin); work that cannot finish by then may be shed. */
  readonly identity: { resolve(facts: RequestFacts, nowMs: number, answerByMs?: number): Promise<IdentityResult> };
  readonly web?: WebFlow | undefined;
  /** Tailnet peer identity (LocalAPI whois), when `tailnet` is configured. */
  readonly tailnet?: { lookup(facts: RequestFacts): Promise<TailnetIdentity | undefined> } | undefined;
  /** Signs `x-verdict-jwt-assertion` for allowed requests with an identity. */
  readonly assertion?: { sign(principal: Principal, audience: string, nowMs: number): Promise<string> } | undefined;
  readonly audit: AuditSink;
  readonly observe?: (outcome: CheckOutcome, transport: 'grpc' | 'http', seconds: number) => void;
  /** How long the audit sink took to accept the record (seconds). */
  readonly observeAuditWrite?: (seconds: number) => void;
  readonly options: {
    readonly requireRouteId: boolean;
    /** Issuers a route without `issuers` trusts. */
    readonly defaultIssuers?: ReadonlySet<string> | undefined;
    readonly includeQuery: boolean;
    readonly includeHeaders?: readonly string[];
    readonly redact?: readonly string[];
    /** `audit.fail_open`: answer even when the record could not be written (off by default). */
    readonly auditFailOpen?: boolean;
  };
  /** Called when a decision's record could not be written. */
  readonly onAuditFailure?: (e: unknown) => void;
  readonly now?: () => number;
  /** OpenTelemetry traces (`telemetry.tracing`); absent when off, and then costs nothing. */
  readonly tracing?: DecisionTracing | undefined;
}

/** The attributes of `verdict.check` a person debugging a slow or denied request needs; no secrets. */
function decisionAttributes(decision: Decision, identity: IdentityResult, facts: RequestFacts | undefined, policyHash: string | undefined) {
  return {
    'verdict.decision': decision.allow ? 'allow' : 'deny',
    'http.response.status_code': decision.status,
    'verdict.reasons': [...decision.reasons],
    'verdict.route': decision.route,
    'verdict.detail': decision.detail,
    'verdict.policy_hash': policyHash,
    'verdict.auth_method': identity.kind === 'principal' ? identity.principal.method : 'none',
    'http.request.method': facts?.method || undefined,
    'url.path': facts?.path || undefined,
    'server.address': facts?.host || undefined,
    'http.request.id': facts?.requestId,
    'verdict.envoy_route': facts?.routeId,
  };
}

/**
 * Span attributes without the keys `audit.redact` removes from the record: an operator who keeps
 * paths or hosts out of the audit trail keeps them out of the exported traces too.
 */
function withoutRedacted<T extends Record<string, unknown>>(attributes: T, keys: readonly string[] | undefined): T {
  if (!keys || keys.length === 0) return attributes;
  const out: Record<string, unknown> = { ...attributes };
  for (const k of keys) delete out[k];
  return out as T;
}

// One deadline queue for every check in this process (see check-deadlines.ts).
const deadlines = new CheckDeadlines();

/** A transport handed an answer over (serialized, framed): ends one answer of a burst (check-deadlines.ts). */
export function answerSent(): void {
  deadlines.answerSent();
}

/** When the answer must be ready: a little before the caller's deadline, earlier under load. */
function answerBy(deadlineMs: number | undefined, nowMs: number): number | undefined {
  if (deadlineMs === undefined || !Number.isFinite(deadlineMs)) return undefined;
  return deadlineMs - deadlines.marginMs(deadlineMs - nowMs);
}

export interface CheckOptions {
  /** HTTP modes for proxies that relay only 2xx/401/403 ask for a 401 instead of a login redirect. */
  readonly loginRedirect?: boolean;
  /**
   * Throws when the transport could not send the answer for this outcome (a header value
   * it would refuse). Run before the audit record is written, so that such an outcome is
   * recorded, and answered, as the 503 `internal-error` it becomes: the record and the
   * answer always agree.
   */
  readonly checkAnswer?: (outcome: CheckOutcome) => void;
}

/**
 * One decision: request facts → identity → policy → outcome. The audit record is
 * handed to the sink in `finally`, before the caller can answer: no answer without
 * its record. Any failure is a deny (503), never an allow.
 */
export async function runCheck(deps: CheckDeps, transport: 'grpc' | 'http', build: () => FactsResult, deadlineMs?: number, options: CheckOptions = {}): Promise<CheckOutcome> {
  const started = performance.now();
  const nowMs = deps.now?.() ?? Date.now();
  const decisionId = randomUUID();
  let facts: RequestFacts | undefined;
  let rawPath: string | undefined;
  let identity: IdentityResult = NO_IDENTITY;
  let policyHash: string | undefined;
  let policyClaimNames: readonly string[] | undefined;
  let decision: Decision = internalError('decision did not complete');
  let extraHeaders: readonly [string, string][] | undefined;
  let page: LoginProblemPage | undefined;
  let assertion: string | undefined;
  let tailnet: TailnetIdentity | undefined;
  let unrecorded: CheckOutcome | undefined;
  let span: DecisionTrace | undefined;
  // Fixed once at the start, from the crowd at arrival: every wait below races the same moment.
  const by = answerBy(deadlineMs, Date.now());
  try {
    // One snapshot for the whole decision, however long identity takes.
    const policy = deps.policies.current;
    policyHash = policy.hash;
    policyClaimNames = policy.claimNames;
    const built = build();
    facts = built.facts;
    rawPath = built.rawPath;
    if (deps.tracing) span = deps.tracing.start(built.facts.headers, performance.timeOrigin + started, { 'verdict.decision_id': decisionId, 'verdict.transport': transport });
    if (!built.ok) {
      decision = denial(400, [built.reason], built.facts.routeId, built.detail);
    } else if (deps.web?.flowPath(built.facts)) {
      // Login start, callback and logout are answered by Verdict itself, on any route's host.
      const web = deps.web;
      const flow = web.flowPath(built.facts);
      const answer = await deadlines.race(flow === 'callback' ? web.callback(built.facts, nowMs) : flow === 'logout' ? web.logout(built.facts, nowMs) : web.loginStart(built.facts, nowMs), deadlineMs);
      decision = denial(answer.status, answer.reasons, undefined, answer.detail);
      extraHeaders = answer.headers;
      page = answer.page;
      identity = answer.identity ?? NO_IDENTITY;
    } else {
      const resolving = span
        ? span.step('verdict.identity', async (s) => {
            const r = await deps.identity.resolve(built.facts, nowMs, by);
            s?.setAttributes({ 'verdict.identity.kind': r.kind, 'verdict.auth_method': r.kind === 'principal' ? r.principal.method : 'none', 'verdict.identity.reason': r.kind === 'invalid' ? r.reason : undefined });
            return r;
          })
        : deps.identity.resolve(built.facts, nowMs, by);
      identity = await deadlines.race(resolving, deadlineMs);
      tailnet = deps.tailnet ? await deadlines.race(deps.tailnet.lookup(built.facts), deadlineMs) : undefined;
      const principal = identity.kind === 'principal' ? identity.principal : undefined;
      const evalOptions = { requireRouteId: deps.options.requireRouteId, identityError: identity.kind === 'invalid' ? identity.reason : undefined, tailnet, defaultIssuers: deps.options.defaultIssuers };
      decision = span
        ? span.stepSync('verdict.policy', (s) => {
            const d = evaluate(policy, built.facts, principal, nowMs, evalOptions);
            s?.setAttributes(withoutRedacted({ 'verdict.route': d.route, 'verdict.decision': d.allow ? 'allow' : 'deny', 'verdict.reasons': [...d.reasons] }, deps.options.redact));
            return d;
          })
        : evaluate(policy, built.facts, principal, nowMs, evalOptions);
      // A credential that could not be checked (outage, shed) must not become a 401: it may be valid.
      if (identity.kind === 'unavailable') decision = identityUnavailableDecision(decision, identity.reason, identity.detail);
      if (decision.allow && identity.kind === 'principal' && deps.assertion) {
        assertion = await deps.assertion.sign(identity.principal, built.facts.host, nowMs);
      }
      // Proxies that can only relay 2xx/401/403 (nginx) send browsers to the login path themselves.
      // Only a missing user identity is fixed by logging in (not a missing tailnet identity).
      if (decision.status === 401 && decision.reasons.includes('user-unauthenticated') && deps.web && options.loginRedirect !== false && wantsLoginRedirect(built.facts)) {
        const login = await deadlines.race(deps.web.loginRedirect(built.facts, nowMs), deadlineMs);
        if (login) {
          decision = { ...denial(login.status, decision.reasons, decision.route, `${decision.detail ?? ''}; ${login.detail}`), shadow: decision.shadow };
          extraHeaders = login.headers;
        }
      }
    }
  } catch (e) {
    decision = internalError(describeError(e), facts?.routeId);
  } finally {
    let outcome: CheckOutcome = { decisionId, decision, identity, facts, extraHeaders, assertion, page };
    if (options.checkAnswer) {
      try {
        options.checkAnswer(outcome);
      } catch (e) {
        decision = internalError(`the answer could not be sent: ${describeError(e)}`, decision.route ?? facts?.routeId);
        extraHeaders = undefined;
        assertion = undefined;
        page = undefined;
        outcome = { decisionId, decision, identity, facts, extraHeaders, assertion };
      }
    }
    const durationMs = performance.now() - started;
    const record = decisionRecord({ decisionId, traceId: span?.traceId, spanId: span?.spanId, timeMs: nowMs, transport, decision, facts, rawPath, identity, tailnet, policyHash, durationMs, includeQuery: deps.options.includeQuery, includeHeaders: deps.options.includeHeaders, claimNames: policyClaimNames });
    const redacted = redact(record, deps.options.redact ?? []);
    let auditFailed = false;
    const writeStarted = performance.now();
    try {
      await (span ? span.step('verdict.audit', () => deps.audit.write(redacted)) : deps.audit.write(redacted));
      const writeMs = performance.now() - writeStarted;
      deadlines.recordWrite(writeMs);
      deps.observeAuditWrite?.(writeMs / 1000);
    } catch (e) {
      auditFailed = true;
      deps.onAuditFailure?.(e);
      // Fail closed unless the operator chose otherwise: no answer without its record. The
      // 503 keeps the decision's id, which the sink lists in its `audit.recovered` record.
      if (!deps.options.auditFailOpen) unrecorded = { decisionId, decision: internalError('audit write failed', facts?.routeId), identity: NO_IDENTITY, facts };
    }
    if (span) {
      const answered = unrecorded?.decision ?? decision;
      span.end(withoutRedacted({ ...decisionAttributes(answered, identity, facts, policyHash), 'verdict.audit_failed': auditFailed || undefined }, deps.options.redact), answered.status >= 500);
    }
    deps.observe?.(unrecorded ?? outcome, transport, durationMs / 1000);
  }
  return unrecorded ?? { decisionId, decision, identity, facts, extraHeaders, assertion, page };
}
