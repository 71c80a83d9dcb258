import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CheckOutcome } from '../response/check-response.js';

/**
 * The `decision` label: Verdict's own login and logout answers are denies to Envoy (a 302 that
 * Envoy passes to the browser) but not refusals; counted as what they are, dashboards of denies
 * stay about refusals.
 */
export function metricDecision(allow: boolean, reasons: readonly string[]): 'allow' | 'deny' | 'login' | 'logout' {
  if (allow) return 'allow';
  if (reasons.includes('login-callback')) return 'login';
  if (reasons.includes('logout') || reasons.includes('logout-confirm')) return 'logout';
  return 'deny';
}

/**
 * Increments of one counter added up here, per label set, and handed to prom-client when the
 * registry is read (`collect`): prom-client hashes the labels on every `inc` (~0.4 µs), and a
 * decision makes three or more. The label sets are the counter's own (bounded the same way).
 */
class PendingCounts<L extends string> {
  readonly #pending = new Map<string, { labels: Partial<Record<L, string>>; n: number }>();

  add(key: string, labels: () => Partial<Record<L, string>>): void {
    const p = this.#pending.get(key);
    if (p) p.n++;
    else this.#pending.set(key, { labels: labels(), n: 1 });
  }

  /** Into the counter, and forgotten here. */
  flush(counter: Counter<L>): void {
    for (const { labels, n } of this.#pending.values()) counter.inc(labels, n);
    this.#pending.clear();
  }
}

/** Prometheus metrics; label values come from route ids and reason codes only (bounded). */
export class Metrics {
  readonly registry = new Registry();
  /** The `/metrics` body: this process's registry, or (a `--workers` worker) every worker's, summed. */
  render: () => Promise<string> = () => this.registry.metrics();
  readonly #decisions: Counter<'route' | 'decision' | 'status' | 'transport'>;
  readonly #reasons: Counter<'route' | 'decision' | 'reason'>;
  readonly #latency: Histogram<'transport'>;
  readonly #reloads: Counter<'result'>;
  readonly #shadow: Counter<'route' | 'differs'>;
  readonly #auditFailures: Counter;
  readonly #auditSinkUp: Gauge;
  readonly #auditSinkFailures: Counter;
  readonly #auditReopens: Counter<'reason'>;
  readonly #syslogDropped: Counter;
  readonly #spansDropped: Counter<'reason'>;
  readonly #jwksFetches: Counter<'issuer' | 'outcome'>;
  readonly #shed: Counter;
  readonly #late: Counter<'transport'>;
  readonly #auditWrite: Histogram;
  readonly #tokenCache: Counter<'result'>;
  readonly #pendingDecisions = new PendingCounts<'route' | 'decision' | 'status' | 'transport'>();
  readonly #pendingReasons = new PendingCounts<'route' | 'decision' | 'reason'>();
  readonly #pendingTokenCache = new PendingCounts<'result'>();
  readonly #refreshFailures: Counter<'kind'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'verdict_' });
    this.#decisions = new Counter({
      name: 'verdict_decisions_total',
      help: 'Decisions by route, decision (allow, deny; login and logout for completed login callbacks and logouts), HTTP status and transport.',
      labelNames: ['route', 'decision', 'status', 'transport'],
      registers: [this.registry],
      collect: () => this.#pendingDecisions.flush(this.#decisions),
    });
    this.#reasons = new Counter({
      name: 'verdict_decision_reasons_total',
      help: 'Reason codes reported by decisions, by route and decision (a decision may report several).',
      labelNames: ['route', 'decision', 'reason'],
      registers: [this.registry],
      collect: () => this.#pendingReasons.flush(this.#reasons),
    });
    this.#latency = new Histogram({
      name: 'verdict_check_duration_seconds',
      help: 'Time from receiving a check to having its decision and audit record.',
      labelNames: ['transport'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
    this.#shadow = new Counter({
      name: 'verdict_shadow_decisions_total',
      help: 'Decisions of dry-run (shadow) policies, by route and whether they differ from the enforced decision.',
      labelNames: ['route', 'differs'],
      registers: [this.registry],
    });
    this.#auditFailures = new Counter({
      name: 'verdict_audit_failures_total',
      help: 'Decisions whose audit record could not be written (denied with 503 unless audit.fail_open).',
      registers: [this.registry],
    });
    this.#auditSinkUp = new Gauge({
      name: 'verdict_audit_sink_up',
      help: '1 while the audit sink writes, 0 while it is failed (decisions are denied; it retries by itself).',
      // Across --workers: 0 when any worker's sink is failed.
      aggregator: 'min',
      registers: [this.registry],
    });
    this.#auditSinkUp.set(1);
    this.#auditSinkFailures = new Counter({
      name: 'verdict_audit_sink_failures_total',
      help: 'Times the audit sink failed (disk full, read-only, I/O error); each outage counts once.',
      registers: [this.registry],
    });
    this.#auditReopens = new Counter({
      name: 'verdict_audit_reopens_total',
      help: 'Times the audit file was reopened at its path, by reason (removed, moved, replaced, signal).',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.#spansDropped = new Counter({
      name: 'verdict_trace_spans_dropped_total',
      help: 'Trace spans not exported (telemetry.tracing): queue full while the collector lags, or an export that failed.',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.#syslogDropped = new Counter({
      name: 'verdict_audit_syslog_dropped_total',
      help: 'Audit copies not delivered to the syslog receiver (queue full, or unsent at a disconnect); the local trail has them.',
      registers: [this.registry],
    });
    this.#jwksFetches = new Counter({
      name: 'verdict_jwks_fetches_total',
      help: 'JWKS fetches by issuer and outcome (ok, error); errors are retried with backoff up to jwks_cooldown.',
      labelNames: ['issuer', 'outcome'],
      registers: [this.registry],
    });
    this.#shed = new Counter({
      name: 'verdict_verifications_shed_total',
      help: 'Token verifications not started because they could not finish before the check deadline (answered 503 overloaded).',
      registers: [this.registry],
    });
    this.#late = new Counter({
      name: 'verdict_late_answers_total',
      help: 'Decisions ready only after the caller\'s deadline (the caller saw a timeout, not the answer), by transport.',
      labelNames: ['transport'],
      registers: [this.registry],
    });
    this.#reloads = new Counter({
      name: 'verdict_policy_reloads_total',
      help: 'Policy reloads by result (accepted, rejected).',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.#tokenCache = new Counter({
      name: 'verdict_token_cache_total',
      help: 'Bearer tokens answered from the verified-token cache (hit) or verified (miss; joined verifications of the same token count once).',
      labelNames: ['result'],
      registers: [this.registry],
      collect: () => this.#pendingTokenCache.flush(this.#tokenCache),
    });
    this.#refreshFailures = new Counter({
      name: 'verdict_session_refresh_failures_total',
      help: 'Failed claims refreshes of browser sessions, by kind: oauth_error and invalid end the session; unavailable (IdP unreachable, timeout, 5xx) keeps it on its last claims within claims_refresh_grace.',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    this.#auditWrite = new Histogram({
      name: 'verdict_audit_write_seconds',
      help: 'Time to hand a decision record to the audit sink and have it accepted (sync mode: written, and flushed with durability disk; async mode: in the buffer, at the end of the event-loop turn).',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
      registers: [this.registry],
    });
  }

  /** `verdict_ready`: what `/readyz` says, read at scrape time. */
  readiness(ready: () => boolean): void {
    new Gauge({
      name: 'verdict_ready',
      help: '1 while /readyz answers 200 (policies loaded, gRPC listening, audit sink and session store healthy, not stopping), else 0.',
      registers: [this.registry],
      collect() {
        this.set(ready() ? 1 : 0);
      },
    });
  }

  tokenCache(hit: boolean): void {
    const result = hit ? 'hit' : 'miss';
    this.#pendingTokenCache.add(result, () => ({ result }));
  }

  observeAuditWrite(seconds: number): void {
    this.#auditWrite.observe(seconds);
  }

  observeDecision(o: CheckOutcome, transport: 'grpc' | 'http', seconds: number): void {
    const s = o.decision.shadow;
    if (s) this.#shadow.inc({ route: o.decision.route ?? '', differs: String(s.allow !== o.decision.allow || s.status !== o.decision.status) });
    const route = o.decision.route ?? '';
    const decision = metricDecision(o.decision.allow, o.decision.reasons);
    const status = o.decision.status;
    this.#pendingDecisions.add(`${route}\u0000${decision}\u0000${status}\u0000${transport}`, () => ({ route, decision, status: String(status), transport }));
    for (const reason of o.decision.reasons) this.#pendingReasons.add(`${route}\u0000${decision}\u0000${reason}`, () => ({ route, decision, reason }));
    this.#latency.observe({ transport }, seconds);
  }

  auditFailure(): void {
    this.#auditFailures.inc();
  }

  auditSink(up: boolean): void {
    this.#auditSinkUp.set(up ? 1 : 0);
    if (!up) this.#auditSinkFailures.inc();
  }

  auditReopen(reason: string): void {
    this.#auditReopens.inc({ reason });
  }

  spansDropped(n: number, reason: 'queue_full' | 'export_failed'): void {
    this.#spansDropped.inc({ reason }, n);
  }

  syslogDropped(n: number): void {
    this.#syslogDropped.inc(n);
  }

  jwksFetch(issuer: string, outcome: 'ok' | 'error'): void {
    this.#jwksFetches.inc({ issuer, outcome });
  }

  sessionRefreshFailure(kind: 'oauth_error' | 'invalid' | 'unavailable'): void {
    this.#refreshFailures.inc({ kind });
  }

  lateAnswer(transport: 'grpc' | 'http'): void {
    this.#late.inc({ transport });
  }

  verificationShed(): void {
    this.#shed.inc();
  }

  reload(result: 'accepted' | 'rejected'): void {
    this.#reloads.inc({ result });
  }
}
