import { selectRoute } from '../policy/evaluate.js';
import { refusePathParameters } from '../policy/path-parameters.js';
import type { PolicySet } from '../policy/policy-set.js';
import { traceRoute, type RuleNode, type TracedRoute, type TraceValue } from '../policy/trace-route.js';
import { caseInput, type TestCase } from './run-cases.js';

export interface RouteCoverage {
  readonly id: string;
  readonly file: string;
  /** Passing cases that reached the route. */
  readonly cases: number;
  /**
   * Outcomes the route's nodes can have plus one for "a passing case reached the route", and
   * how many of them the passing cases produced.
   */
  readonly outcomes: number;
  readonly covered: number;
  /** Node outcomes no passing case produced. */
  readonly missing: readonly { readonly node: RuleNode; readonly value: TraceValue }[];
}

export interface CoverageReport {
  readonly routes: readonly RouteCoverage[];
  readonly outcomes: number;
  readonly covered: number;
  /** covered / outcomes, in percent (100 for a policy without rules). */
  readonly percent: number;
}

/**
 * Which rule nodes of which routes the passing test cases exercised, with a true and with a
 * false outcome (`verdict test --coverage`). A node counts only when the decision reached it
 * (a true `deny` leaves `allow` unevaluated, as in serving).
 */
export class Coverage {
  readonly #traced = new Map<string, TracedRoute>();
  readonly #seen = new Map<string, Set<TraceValue>>();
  readonly #cases = new Map<string, number>();

  constructor(
    private readonly policy: PolicySet,
    private readonly requireRouteId: boolean,
  ) {}

  /** Records what a passing case exercised. */
  add(c: TestCase): void {
    const input = caseInput(c);
    if (!('facts' in input)) return;
    const route = selectRoute(this.policy, input.facts, this.requireRouteId);
    if (typeof route === 'string') return;
    if (refusePathParameters(input.facts, route, (f) => selectRoute(this.policy, f, false))) return;
    this.#cases.set(route.id, (this.#cases.get(route.id) ?? 0) + 1);
    let traced = this.#traced.get(route.id);
    if (!traced) this.#traced.set(route.id, (traced = traceRoute(route)));
    for (const step of traced.run({ facts: input.facts, principal: input.principal, tailnet: undefined, now: input.nowMs })) {
      const key = `${route.file}#${step.pointer}`;
      let seen = this.#seen.get(key);
      if (!seen) this.#seen.set(key, (seen = new Set()));
      seen.add(step.value);
    }
  }

  report(): CoverageReport {
    let outcomes = 0;
    let covered = 0;
    const routes = this.policy.routes.map((route): RouteCoverage => {
      const nodes = (this.#traced.get(route.id) ?? traceRoute(route)).nodes;
      const missing: { node: RuleNode; value: TraceValue }[] = [];
      const cases = this.#cases.get(route.id) ?? 0;
      let routeOutcomes = 1;
      let reached = cases > 0 ? 1 : 0;
      for (const node of nodes) {
        const seen = this.#seen.get(`${route.file}#${node.pointer}`);
        for (const value of node.possible) {
          routeOutcomes++;
          if (!seen?.has(value)) missing.push({ node, value });
        }
      }
      reached += routeOutcomes - 1 - missing.length;
      outcomes += routeOutcomes;
      covered += reached;
      return { id: route.id, file: route.file, cases, outcomes: routeOutcomes, covered: reached, missing };
    });
    return { routes, outcomes, covered, percent: outcomes === 0 ? 100 : (covered / outcomes) * 100 };
  }
}
