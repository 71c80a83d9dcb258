import { compileMatch, type MatchSpec } from '../policy/compile-match.js';
import type { EvalContext } from '../policy/context.js';
import { selectRoute, trustedIssuers } from '../policy/evaluate.js';
import type { CompiledRoute, PolicySet } from '../policy/policy-set.js';
import { traceRoute, type TraceValue } from '../policy/trace-route.js';
import type { RequestFacts } from '../request/facts.js';

/** One part of a route's `match` against the request: what it asks, what the request has. */
export interface MatchPart {
  readonly part: 'hosts' | 'path' | 'path_prefix' | 'path_regex' | 'methods';
  readonly wants: string | readonly string[];
  readonly value: string;
  readonly ok: boolean;
}

export interface RouteTrace {
  readonly id: string;
  readonly file: string;
  readonly pointer: string;
  readonly selected: boolean;
  /** Why the route was or was not the one deciding, in words. */
  readonly why: string;
  readonly match: readonly MatchPart[];
}

export interface CriterionTrace {
  /** JSON pointer of the rule node in its policy file. */
  readonly pointer: string;
  readonly rule: string;
  /** The criterion's argument as the policy has it (`{"has": "sre"}`); absent for and/or/not. */
  readonly wants?: unknown;
  /** What the criterion read from the request or identity (absent for and/or/not/accept/reject). */
  readonly input?: unknown;
  readonly outcome: TraceValue | 'not evaluated';
  readonly reasons: readonly string[];
}

export interface DecisionTrace {
  readonly routes: readonly RouteTrace[];
  /** Rule nodes of the selected route in file order (deny, allow, shadow); allow is `not evaluated` after a true deny. */
  readonly rules: readonly CriterionTrace[];
}

function matchParts(route: CompiledRoute, facts: RequestFacts): MatchPart[] {
  const spec = route.source.match as MatchSpec | undefined;
  if (!spec) return [];
  const parts: MatchPart[] = [];
  // Each part compiled on its own, here only: the served route has one combined matcher.
  const check = (part: MatchPart['part'], sub: MatchSpec, wants: string | readonly string[], value: string) =>
    parts.push({ part, wants, value, ok: compileMatch(sub, route.pointer)!(facts) });
  if (spec.hosts) check('hosts', { hosts: spec.hosts }, spec.hosts, facts.host);
  if (spec.path !== undefined) check('path', { path: spec.path }, spec.path, facts.path);
  if (spec.path_prefix !== undefined) check('path_prefix', { path_prefix: spec.path_prefix }, spec.path_prefix, facts.path);
  if (spec.path_regex !== undefined) check('path_regex', { path_regex: spec.path_regex }, spec.path_regex, facts.path);
  if (spec.methods) check('methods', { methods: spec.methods }, spec.methods, facts.method);
  return parts;
}

function emailDomain(email: string | undefined): string | undefined {
  const at = email?.lastIndexOf('@') ?? -1;
  return at < 0 ? undefined : email!.slice(at + 1);
}

/** The value a criterion reads, for people: null when the request or identity lacks it. */
function inputOf(rule: string, arg: unknown, ctx: EvalContext): unknown {
  const p = ctx.principal;
  const named = (arg as { name?: string } | undefined)?.name;
  switch (rule) {
    case 'http_method':
      return ctx.facts.method;
    case 'http_path':
      return ctx.facts.path;
    case 'header':
      return named === undefined ? null : (ctx.facts.headers.get(named) ?? null);
    case 'source_ip':
      return ctx.facts.sourceIp ?? null;
    case 'authenticated_user':
    case 'user':
      return p ? p.subject : null;
    case 'email':
      return p?.email ?? null;
    case 'domain':
      return emailDomain(p?.email) ?? null;
    case 'groups':
      return p ? p.groups : null;
    case 'claim':
      return p && named !== undefined ? (p.claims[named] ?? null) : null;
    case 'session_age':
      return p?.authTime === undefined ? null : `${Math.round(ctx.now / 1000 - p.authTime)}s since login`;
    case 'time_of_day':
    case 'day_of_week':
    case 'date':
      return new Date(ctx.now).toISOString();
    case 'tailnet_user':
      return ctx.tailnet?.user ?? null;
    case 'tailnet_node':
      return ctx.tailnet?.node ?? null;
    case 'tailnet_tags':
      return ctx.tailnet ? ctx.tailnet.tags : null;
    default:
      return undefined;
  }
}

/** The rule JSON at a pointer inside a route's source (the pointer's route part removed). */
function ruleArg(route: CompiledRoute, pointer: string): unknown {
  const rest = pointer.slice(route.pointer.length).split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  let v: unknown = route.source;
  for (const k of rest) v = v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[k];
  return v;
}

/**
 * Why a decision came out as it did: every route against the request (policy order, the one
 * that decides marked), then each rule node of that route as evaluation reached it. Built by
 * compiling the route a second time with an observer (trace-route.ts): the serving path has
 * no tracing cost at all.
 */
export function traceDecision(policy: PolicySet, ctx: EvalContext, requireRouteId: boolean): DecisionTrace {
  const facts = ctx.facts;
  const selected = selectRoute(policy, facts, requireRouteId);
  const chosen = typeof selected === 'string' ? undefined : selected;
  let seenChosen = false;
  const routes = policy.routes.map((r): RouteTrace => {
    const match = matchParts(r, facts);
    const isChosen = r === chosen;
    if (isChosen) seenChosen = true;
    let why: string;
    if (facts.routeId !== undefined) {
      why = isChosen ? `Envoy bound the request to this route (context_extensions.route ${JSON.stringify(facts.routeId)})` : `not considered: Envoy bound the request to route ${JSON.stringify(facts.routeId)}`;
    } else if (requireRouteId) {
      why = 'not considered: policies.require_route_id is set and Envoy bound no route';
    } else if (isChosen) {
      why = match.length === 0 ? 'selected: the route has no match, so it takes every request' : 'selected: the first route in policy order whose match accepts the request';
    } else {
      const failed = match.filter((m) => !m.ok);
      if (failed.length > 0) why = `no match: ${failed.map((m) => `${m.part} ${JSON.stringify(m.wants)} does not accept ${JSON.stringify(m.value)}`).join('; ')}`;
      else why = seenChosen ? 'matches too, but an earlier route decides' : 'matches, but was not selected';
    }
    return { id: r.id, file: r.file, pointer: r.pointer, selected: isChosen, why, match };
  });
  const rules: CriterionTrace[] = [];
  if (chosen) {
    const traced = traceRoute(chosen);
    // ctx.trustedIssuers holds the default; the chosen route may name its own (as evaluate does).
    const reached = new Map(traced.run({ ...ctx, trustedIssuers: trustedIssuers(chosen, ctx.trustedIssuers) }).map((st) => [st.pointer, st]));
    // File order (deny, then allow, then shadow), each node with what it read and its outcome;
    // a node evaluation did not reach (allow after a true deny) says so.
    for (const node of traced.nodes) {
      const st = reached.get(node.pointer);
      const arg = ruleArg(chosen, node.pointer);
      const input = inputOf(node.rule, arg, ctx);
      const combinator = node.rule === 'and' || node.rule === 'or' || node.rule === 'not';
      rules.push({ pointer: node.pointer, rule: node.rule, ...(combinator ? {} : { wants: arg }), ...(input === undefined ? {} : { input }), outcome: st ? st.value : 'not evaluated', reasons: st ? st.reasons : [] });
    }
  }
  return { routes, rules };
}
