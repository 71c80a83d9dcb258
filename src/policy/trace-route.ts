import { pointerJoin } from './compile-error.js';
import { compileRule, type CompiledRule } from './compile-rule.js';
import type { EvalContext } from './context.js';
import type { CompileEnv } from './criteria/criterion.js';
import type { CompiledRoute } from './policy-set.js';
import { FALSE, TRUE, type Outcome } from './tri.js';

export type TraceValue = 'true' | 'false' | 'unknown';

/** One rule node as the policy file has it: a combinator (`and`, `or`, `not`) or a criterion. */
export interface RuleNode {
  /** JSON pointer into the policy file, down to the node's key (`/routes/0/allow/or/1/groups`). */
  readonly pointer: string;
  readonly rule: string;
  /** The outcomes the node can have at all: `accept` is never false, `reject` never true. */
  readonly possible: readonly TraceValue[];
}

export interface TraceStep {
  readonly pointer: string;
  readonly rule: string;
  readonly value: TraceValue;
  readonly reasons: readonly string[];
}

export interface TracedRoute {
  readonly route: CompiledRoute;
  /** Every node of the route's allow, deny and shadow rules, in file order. */
  readonly nodes: readonly RuleNode[];
  /** The nodes evaluated for one request, in evaluation order, the way `evaluate` reaches them. */
  run(ctx: EvalContext): TraceStep[];
}

const valueOf = (o: Outcome): TraceValue => (o.value === TRUE ? 'true' : o.value === FALSE ? 'false' : 'unknown');

function nodesOf(rule: unknown, pointer: string, out: RuleNode[]): void {
  if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) return;
  const [key] = Object.keys(rule);
  if (key === undefined) return;
  const arg = (rule as Record<string, unknown>)[key];
  const at = pointerJoin(pointer, key);
  out.push({ pointer: at, rule: key, possible: key === 'accept' ? ['true'] : key === 'reject' ? ['false'] : ['true', 'false'] });
  if ((key === 'and' || key === 'or') && Array.isArray(arg)) arg.forEach((r, i) => nodesOf(r, pointerJoin(at, i), out));
  if (key === 'not') nodesOf(arg, at, out);
}

/**
 * A route's rules compiled a second time with an observer, for the tools that show what was
 * evaluated (`verdict test --coverage`, `verdict explain`). Never used to serve: the served
 * rules carry no observer and cost nothing extra.
 */
export function traceRoute(route: CompiledRoute, env: CompileEnv = {}): TracedRoute {
  let steps: TraceStep[] = [];
  const observe = (pointer: string, rule: string, o: Outcome): void => void steps.push({ pointer, rule, value: valueOf(o), reasons: o.reasons });
  const src = route.source as { allow?: unknown; deny?: unknown; shadow?: { allow?: unknown; deny?: unknown } };
  const compile = (rule: unknown, at: string): CompiledRule | undefined => (rule === undefined ? undefined : compileRule(rule, at, env, observe));
  const base = route.pointer;
  const allow = compile(src.allow, pointerJoin(base, 'allow'));
  const deny = compile(src.deny, pointerJoin(base, 'deny'));
  const shadowAt = pointerJoin(base, 'shadow');
  const shadowAllow = compile(src.shadow?.allow, pointerJoin(shadowAt, 'allow'));
  const shadowDeny = compile(src.shadow?.deny, pointerJoin(shadowAt, 'deny'));
  const nodes: RuleNode[] = [];
  nodesOf(src.deny, pointerJoin(base, 'deny'), nodes);
  nodesOf(src.allow, pointerJoin(base, 'allow'), nodes);
  nodesOf(src.shadow?.deny, pointerJoin(shadowAt, 'deny'), nodes);
  nodesOf(src.shadow?.allow, pointerJoin(shadowAt, 'allow'), nodes);
  // As evaluate.ts decides: deny first, and allow only when deny is not true.
  const pair = (d: CompiledRule | undefined, a: CompiledRule | undefined, ctx: EvalContext): void => {
    if (d && d(ctx).value === TRUE) return;
    a?.(ctx);
  };
  return {
    route,
    nodes,
    run(ctx) {
      steps = [];
      pair(deny, allow, ctx);
      if (src.shadow) pair(shadowDeny, shadowAllow, ctx);
      return steps;
    },
  };
}
