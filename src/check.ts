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
  readonly identity: { resolve(facts: RequestFacts, nowMs: number, answerByMs?: number): IdentityResult | Promise<IdentityResult> };
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

/** What one decision has found so far; the steps below fill it in. */
interface CheckState {
  readonly decisionId: string;
  readonly nowMs: number;
  readonly started: number;
  facts: RequestFacts | undefined;
  rawPath: string | undefined;
  identity: IdentityResult;
  policyHash: string | undefined;
  policyClaimNames: readonly string[] | undefined;
  decision: Decision;
  extraHeaders: readonly [string, string][] | undefined;
  /** The login flow's problem page (web flow answers only). */
  page: LoginProblemPage | undefined;
  assertion: string | undefined;
  tailnet: TailnetIdentity | undefined;
  span: DecisionTrace | undefined;
}

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => v instanceof Promise;

/**
 * One decision: request facts → identity → policy → outcome. The audit record is
 * handed to the sink after the decision, before the caller can answer: no answer without
 * its record. Any failure is a deny (503), never an allow.
 *
 * The common case (a token already in the cache, nothing else to wait for) decides without
 * a promise or a microtask hop: only the audit write is waited on. Anything that must wait
 * (a token to verify, a session, a tailnet lookup, an assertion to sign, a login redirect,
 * tracing) continues in the async steps, with the same outcome.
 */
export function runCheck(deps: CheckDeps, transport: 'grpc' | 'http', build: () => FactsResult, deadlineMs?: number, options: CheckOptions = {}): Promise<CheckOutcome> {
  const s: CheckState = {
    decisionId: randomUUID(),
    nowMs: deps.now?.() ?? Date.now(),
    started: performance.now(),
    facts: undefined,
    rawPath: undefined,
    identity: NO_IDENTITY,
    policyHash: undefined,
    policyClaimNames: undefined,
    decision: internalError('decision did not complete'),
    extraHeaders: undefined,
    page: undefined,
    assertion: undefined,
    tailnet: undefined,
    span: undefined,
  };
  const waiting = decide(deps, s, transport, build, deadlineMs, options);
  return waiting === undefined ? record(deps, s, transport, options) : waiting.then(() => record(deps, s, transport, options));
}

/** Undefined when decided without waiting; else settles (never rejects) once decided. */
function decide(deps: CheckDeps, s: CheckState, transport: 'grpc' | 'http', build: () => FactsResult, deadlineMs: number | undefined, options: CheckOptions): Promise<void> | undefined {
  try {
    // Fixed once at the start, from the crowd at arrival: every wait below races the same moment.
    const by = answerBy(deadlineMs, Date.now());
    // One snapshot for the whole decision, however long identity takes.
    const policy = deps.policies.current;
    s.policyHash = policy.hash;
    s.policyClaimNames = policy.claimNames;
    const built = build();
    s.facts = built.facts;
    s.rawPath = built.rawPath;
    if (deps.tracing) s.span = deps.tracing.start(built.facts.headers, performance.timeOrigin + s.started, { 'verdict.decision_id': s.decisionId, 'verdict.transport': transport });
    if (!built.ok) {
      s.decision = denial(400, [built.reason], built.facts.routeId, built.detail);
      return undefined;
    }
    if (deps.web?.flowPath(built.facts)) return webFlow(deps, s, deps.web, built.facts, deadlineMs);
    const span = s.span;
    const resolving = span
      ? span.step('verdict.identity', async (t) => {
          const r = await deps.identity.resolve(built.facts, s.nowMs, by);
          t?.setAttributes({ 'verdict.identity.kind': r.kind, 'verdict.auth_method': r.kind === 'principal' ? r.principal.method : 'none', 'verdict.identity.reason': r.kind === 'invalid' ? r.reason : undefined });
          return r;
        })
      : deps.identity.resolve(built.facts, s.nowMs, by);
    if (isPromise(resolving) || deps.tailnet) return afterIdentity(deps, s, policy, built.facts, resolving, deadlineMs, options);
    s.identity = resolving;
    return conclude(deps, s, policy, built.facts, deadlineMs, options);
  } catch (e) {
    s.decision = internalError(describeError(e), s.facts?.routeId);
    return undefined;
  }
}

/** Login start, callback and logout are answered by Verdict itself, on any route's host. */
async function webFlow(deps: CheckDeps, s: CheckState, web: WebFlow, facts: RequestFacts, deadlineMs: number | undefined): Promise<void> {
  try {
    const flow = web.flowPath(facts);
    const answer = await deadlines.race(flow === 'callback' ? web.callback(facts, s.nowMs) : flow === 'logout' ? web.logout(facts, s.nowMs) : web.loginStart(facts, s.nowMs), deadlineMs);
    s.decision = denial(answer.status, answer.reasons, undefined, answer.detail);
    s.extraHeaders = answer.headers;
    s.page = answer.page;
    s.identity = answer.identity ?? NO_IDENTITY;
  } catch (e) {
    s.decision = internalError(describeError(e), s.facts?.routeId);
  }
}

async function afterIdentity(deps: CheckDeps, s: CheckState, policy: PolicySet, facts: RequestFacts, resolving: IdentityResult | Promise<IdentityResult>, deadlineMs: number | undefined, options: CheckOptions): Promise<void> {
  try {
    s.identity = isPromise(resolving) ? await deadlines.race(resolving, deadlineMs) : resolving;
    s.tailnet = deps.tailnet ? await deadlines.race(deps.tailnet.lookup(facts), deadlineMs) : undefined;
    const more = conclude(deps, s, policy, facts, deadlineMs, options);
    if (more) await more;
  } catch (e) {
    s.decision = internalError(describeError(e), s.facts?.routeId);
  }
}

/** The policy's decision on what is known; undefined when nothing more is to be waited for. */
function conclude(deps: CheckDeps, s: CheckState, policy: PolicySet, facts: RequestFacts, deadlineMs: number | undefined, options: CheckOptions): Promise<void> | undefined {
  const identity = s.identity;
  const principal = identity.kind === 'principal' ? identity.principal : undefined;
  const evalOptions = { requireRouteId: deps.options.requireRouteId, identityError: identity.kind === 'invalid' ? identity.reason : undefined, tailnet: s.tailnet, defaultIssuers: deps.options.defaultIssuers };
  let decision = s.span
    ? s.span.stepSync('verdict.policy', (t) => {
        const d = evaluate(policy, facts, principal, s.nowMs, evalOptions);
        t?.setAttributes(withoutRedacted({ 'verdict.route': d.route, 'verdict.decision': d.allow ? 'allow' : 'deny', 'verdict.reasons': [...d.reasons] }, deps.options.redact));
        return d;
      })
    : evaluate(policy, facts, principal, s.nowMs, evalOptions);
  // A credential that could not be checked (outage, shed) must not become a 401: it may be valid.
  if (identity.kind === 'unavailable') decision = identityUnavailableDecision(decision, identity.reason, identity.detail);
  s.decision = decision;
  const sign = decision.allow && principal !== undefined && deps.assertion !== undefined;
  // Proxies that can only relay 2xx/401/403 (nginx) send browsers to the login path themselves.
  // Only a missing user identity is fixed by logging in (not a missing tailnet identity).
  const login = decision.status === 401 && decision.reasons.includes('user-unauthenticated') && deps.web !== undefined && options.loginRedirect !== false && wantsLoginRedirect(facts);
  return sign || login ? signOrRedirect(deps, s, facts, principal, sign, deadlineMs) : undefined;
}

async function signOrRedirect(deps: CheckDeps, s: CheckState, facts: RequestFacts, principal: Principal | undefined, sign: boolean, deadlineMs: number | undefined): Promise<void> {
  try {
    if (sign) {
      s.assertion = await deps.assertion!.sign(principal!, facts.host, s.nowMs);
      return;
    }
    const decision = s.decision;
    const login = await deadlines.race(deps.web!.loginRedirect(facts, s.nowMs), deadlineMs);
    if (login) {
      s.decision = { ...denial(login.status, decision.reasons, decision.route, `${decision.detail ?? ''}; ${login.detail}`), shadow: decision.shadow };
      s.extraHeaders = login.headers;
    }
  } catch (e) {
    s.decision = internalError(describeError(e), s.facts?.routeId);
  }
}

/** The audit record, written before the outcome is handed back (rejects only on a bug). */
function record(deps: CheckDeps, s: CheckState, transport: 'grpc' | 'http', options: CheckOptions): Promise<CheckOutcome> {
  try {
    const { decisionId, identity, facts, span } = s;
    let outcome: CheckOutcome = { decisionId, decision: s.decision, identity, facts, extraHeaders: s.extraHeaders, assertion: s.assertion, page: s.page };
    if (options.checkAnswer) {
      try {
        options.checkAnswer(outcome);
      } catch (e) {
        outcome = { decisionId, decision: internalError(`the answer could not be sent: ${describeError(e)}`, s.decision.route ?? facts?.routeId), identity, facts, extraHeaders: undefined, assertion: undefined };
      }
    }
    const decision = outcome.decision;
    const durationMs = performance.now() - s.started;
    const rec = decisionRecord({ decisionId, traceId: span?.traceId, spanId: span?.spanId, timeMs: s.nowMs, transport, decision, facts, rawPath: s.rawPath, identity, tailnet: s.tailnet, policyHash: s.policyHash, durationMs, includeQuery: deps.options.includeQuery, includeHeaders: deps.options.includeHeaders, claimNames: s.policyClaimNames });
    const redacted = redact(rec, deps.options.redact ?? []);
    const writeStarted = performance.now();
    let written: Promise<void>;
    try {
      written = span ? span.step('verdict.audit', () => deps.audit.write(redacted)) : deps.audit.write(redacted);
    } catch (e) {
      written = Promise.reject(e);
    }
    const done = (unrecorded: CheckOutcome | undefined, auditFailed: boolean): CheckOutcome => {
      if (span) {
        const answered = unrecorded?.decision ?? decision;
        span.end(withoutRedacted({ ...decisionAttributes(answered, identity, facts, s.policyHash), 'verdict.audit_failed': auditFailed || undefined }, deps.options.redact), answered.status >= 500);
      }
      deps.observe?.(unrecorded ?? outcome, transport, durationMs / 1000);
      return unrecorded ?? outcome;
    };
    return written.then(
      () => {
        const writeMs = performance.now() - writeStarted;
        deadlines.recordWrite(writeMs);
        deps.observeAuditWrite?.(writeMs / 1000);
        return done(undefined, false);
      },
      (e: unknown) => {
        deps.onAuditFailure?.(e);
        // Fail closed unless the operator chose otherwise: no answer without its record. The
        // 503 keeps the decision's id, which the sink lists in its `audit.recovered` record.
        return done(deps.options.auditFailOpen ? undefined : { decisionId, decision: internalError('audit write failed', facts?.routeId), identity: NO_IDENTITY, facts }, true);
      },
    );
  } catch (e) {
    return Promise.reject(e);
  }
}
