import type { AuditRecord } from '../audit/record.js';
import { evaluate } from '../policy/evaluate.js';
import type { PolicySet } from '../policy/policy-set.js';
import { replayInput, type TrailSettings } from './record-input.js';

export type Change = 'allow → deny' | 'deny → allow' | 'same decision, other reasons';

export interface Example {
  readonly decisionId: string;
  readonly time: string;
  readonly user: string | undefined;
  readonly method: string | undefined;
  readonly host: string | undefined;
  readonly path: string | undefined;
  readonly oldRoute: string | undefined;
  readonly oldStatus: number;
  readonly oldReasons: readonly string[];
  readonly newStatus: number;
  readonly newReasons: readonly string[];
}

export interface ChangeGroup {
  readonly route: string;
  readonly change: Change;
  count: number;
  readonly users: Set<string>;
  readonly examples: Example[];
}

export interface UndecidableGroup {
  readonly fact: string;
  count: number;
  readonly examples: string[];
}

/** Why a record was not replayed, beside control-plane records. */
export type Skip = 'control-plane' | 'login flow' | 'refused before the policy (400)' | 'failed internally (503)';

export interface ReplayReport {
  records: number;
  replayed: number;
  unchanged: number;
  readonly changes: Map<string, ChangeGroup>;
  readonly undecidable: Map<string, UndecidableGroup>;
  undecidableRecords: number;
  readonly skipped: Map<Skip, number>;
}

export interface ReplayOptions {
  readonly requireRouteId: boolean;
  /** Examples kept per group. */
  readonly examples: number;
}

const FLOW_REASONS = new Set(['login-callback', 'login-failed', 'logout', 'logout-confirm']);

export function emptyReport(): ReplayReport {
  return { records: 0, replayed: 0, unchanged: 0, changes: new Map(), undecidable: new Map(), undecidableRecords: 0, skipped: new Map() };
}

/** A login redirect (302) is how a browser is told 401: they compare as one. */
const comparable = (status: number): number => (status === 302 ? 401 : status);

function sameReasons(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Replays audit records one by one against a policy set, folding each into `report`. Pure:
 * the caller streams the records (files oldest first) and keeps the trail settings that
 * start records announce.
 */
export class Replayer {
  readonly report = emptyReport();
  readonly #settings: TrailSettings = { headers: undefined };

  constructor(
    private readonly policy: PolicySet,
    private readonly options: ReplayOptions,
  ) {}

  #skip(why: Skip): void {
    this.report.skipped.set(why, (this.report.skipped.get(why) ?? 0) + 1);
  }

  add(r: AuditRecord): void {
    const report = this.report;
    report.records++;
    const action = r['event.action'];
    if (action !== 'authorize') {
      // A start record says which headers that server recorded, for the records after it.
      if (action === 'start') this.#settings.headers = new Set(Array.isArray(r['verdict.audit_headers']) ? (r['verdict.audit_headers'] as string[]) : []);
      return this.#skip('control-plane');
    }
    const oldReasons = Array.isArray(r['verdict.reasons']) ? (r['verdict.reasons'] as string[]) : [];
    const oldStatus = Number(r['http.response.status_code']);
    if (oldReasons.some((x) => FLOW_REASONS.has(x))) return this.#skip('login flow');
    if (oldStatus === 400) return this.#skip('refused before the policy (400)');
    if (oldStatus === 503) return this.#skip('failed internally (503)');

    const input = replayInput(r, this.#settings);
    const decision = evaluate(this.policy, input.facts, input.principal, input.nowMs, {
      requireRouteId: this.options.requireRouteId,
      identityError: input.identityError,
      tailnet: input.tailnet,
    });
    const example = (): Example => ({
      decisionId: String(r['verdict.decision_id']),
      time: String(r.time),
      user: typeof r['user.id'] === 'string' ? r['user.id'] : undefined,
      method: r['http.request.method'] as string | undefined,
      host: r['server.address'] as string | undefined,
      path: r['url.path'] as string | undefined,
      oldRoute: r['verdict.route'] as string | undefined,
      oldStatus,
      oldReasons,
      newStatus: decision.status,
      newReasons: decision.reasons,
    });
    if (input.missing.size > 0) {
      report.undecidableRecords++;
      for (const fact of input.missing) {
        let g = report.undecidable.get(fact);
        if (!g) report.undecidable.set(fact, (g = { fact, count: 0, examples: [] }));
        g.count++;
        if (g.examples.length < this.options.examples) g.examples.push(String(r['verdict.decision_id']));
      }
      return;
    }
    report.replayed++;
    const wasAllow = r['verdict.decision'] === 'allow';
    let change: Change | undefined;
    if (wasAllow !== decision.allow) change = wasAllow ? 'allow → deny' : 'deny → allow';
    else if (comparable(oldStatus) !== comparable(decision.status) || !sameReasons(oldReasons, decision.reasons)) change = 'same decision, other reasons';
    if (change === undefined) {
      report.unchanged++;
      return;
    }
    const route = decision.route ?? (r['verdict.route'] as string | undefined) ?? '(no route)';
    const key = `${route}\0${change}`;
    let g = report.changes.get(key);
    if (!g) report.changes.set(key, (g = { route, change, count: 0, users: new Set(), examples: [] }));
    g.count++;
    g.users.add(typeof r['user.id'] === 'string' ? r['user.id'] : '(anonymous)');
    if (g.examples.length < this.options.examples) g.examples.push(example());
  }
}

/** Decisions that flipped between allow and deny: what makes `verdict replay` exit 1. */
export function flips(report: ReplayReport): number {
  let n = 0;
  for (const g of report.changes.values()) if (g.change !== 'same decision, other reasons') n += g.count;
  return n;
}
