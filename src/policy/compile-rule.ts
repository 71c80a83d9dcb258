import type { EvalContext } from './context.js';
import { RuleCompileError, pointerJoin } from './compile-error.js';
import { CRITERIA_BY_NAME } from './criteria/index.js';
import type { CompileEnv, Criterion, CriterionTest } from './criteria/criterion.js';
import { criterionReasons } from './reasons.js';
import { FALSE, TRUE, UNKNOWN, type Outcome, type Tri } from './tri.js';

export type CompiledRule = (ctx: EvalContext) => Outcome;

/**
 * Sees every rule node's outcome, by JSON pointer (`…/allow/or/1/groups`). Only rules compiled
 * for tracing (`verdict test --coverage`, `explain`) get one: serving rules are never wrapped.
 */
export type RuleObserver = (pointer: string, rule: string, outcome: Outcome) => void;

function observed(node: CompiledRule, pointer: string, rule: string, observe: RuleObserver | undefined): CompiledRule {
  if (!observe) return node;
  return (ctx) => {
    const o = node(ctx);
    observe(pointer, rule, o);
    return o;
  };
}

const UNAUTHENTICATED: Outcome = Object.freeze({ value: UNKNOWN, reasons: Object.freeze(['user-unauthenticated']) });
// An identity from an issuer the route does not trust is no identity for its criteria:
// `sub: alice` of another IdP is not alice. Unknown (not false), so `not` cannot turn it into
// a match and a deny on it cannot be evaded; never a login redirect (logging in again at the
// same IdP would not help).
const UNTRUSTED_ISSUER: Outcome = Object.freeze({ value: UNKNOWN, reasons: Object.freeze(['issuer-untrusted']) });
const NO_TAILNET: Outcome = Object.freeze({ value: UNKNOWN, reasons: Object.freeze(['tailnet-unauthenticated']) });

function union(outcomes: readonly Outcome[], value: number): string[] {
  const out: string[] = [];
  for (const o of outcomes) {
    if (o.value !== value) continue;
    for (const r of o.reasons) if (!out.includes(r)) out.push(r);
  }
  return out;
}

/**
 * and/or evaluate every child (no short-circuit) so the reported reasons do not depend
 * on the order of the children. Kleene logic: the dominant value (FALSE for `and`, TRUE
 * for `or`) decides; otherwise UNKNOWN (needs identity) wins over the neutral value.
 */
function combine(children: CompiledRule[], dominant: Tri): CompiledRule {
  const neutral: Tri = dominant === FALSE ? TRUE : FALSE;
  return (ctx) => {
    const results = children.map((c) => c(ctx));
    let sawUnknown = false;
    for (const r of results) {
      if (r.value === dominant) return { value: dominant, reasons: union(results, dominant) };
      if (r.value === UNKNOWN) sawUnknown = true;
    }
    return sawUnknown ? { value: UNKNOWN, reasons: union(results, UNKNOWN) } : { value: neutral, reasons: union(results, neutral) };
  };
}

/** `not` flips the value and keeps the inner reasons: they say what was checked. */
function notOf(child: CompiledRule): CompiledRule {
  return (ctx) => {
    const r = child(ctx);
    return r.value === UNKNOWN ? r : { value: r.value === TRUE ? FALSE : TRUE, reasons: r.reasons };
  };
}

/** One frozen pair of outcomes per criterion, shared by every rule that uses it (memory at 10,000 routes). */
const OUTCOMES = new Map<string, { ok: Outcome; no: Outcome }>();
function outcomesOf(key: string): { ok: Outcome; no: Outcome } {
  let o = OUTCOMES.get(key);
  if (!o) {
    const reasons = criterionReasons(key);
    o = { ok: Object.freeze({ value: TRUE, reasons: Object.freeze([reasons.ok]) }), no: Object.freeze({ value: FALSE, reasons: Object.freeze([reasons.unauthorized]) }) };
    OUTCOMES.set(key, o);
  }
  return o;
}

/**
 * Compiled rules by their JSON text, shared by every route of one compile that has the same
 * rule or sub-rule (a deny on `groups: banned` in 10,000 routes is one closure tree, not
 * 10,000): a compiled rule depends on its JSON alone and holds no state. Not for observed
 * (traced) rules, whose observer reports each rule's own pointer.
 */
export type SharedRules = Map<string, CompiledRule>;

export function compileRule(rule: unknown, pointer: string, env: CompileEnv, observe?: RuleObserver, shared?: SharedRules): CompiledRule {
  if (shared === undefined || observe !== undefined) return compileRuleNode(rule, pointer, env, observe, undefined);
  const key = JSON.stringify(rule);
  let compiled = shared.get(key);
  if (compiled === undefined) {
    // Only what compiled is kept: a rule with a problem is reported at every place it appears.
    compiled = compileRuleNode(rule, pointer, env, undefined, shared);
    shared.set(key, compiled);
  }
  return compiled;
}

function compileRuleNode(rule: unknown, pointer: string, env: CompileEnv, observe: RuleObserver | undefined, shared: SharedRules | undefined): CompiledRule {
  if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) {
    throw new RuleCompileError(pointer, 'a rule is an object with exactly one key');
  }
  const keys = Object.keys(rule);
  if (keys.length !== 1) throw new RuleCompileError(pointer, `a rule has exactly one key, found ${keys.length}`);
  const key = keys[0]!;
  const arg = (rule as Record<string, unknown>)[key];
  const at = pointerJoin(pointer, key);
  if (key === 'and' || key === 'or') {
    if (!Array.isArray(arg) || arg.length === 0) throw new RuleCompileError(at, `${key} takes a non-empty array of rules`);
    // A loop, not arr.map with an arrow: a closure here would keep `at` alive in every
    // compiled rule's context (memory at 10,000 routes).
    const children = new Array<CompiledRule>(arg.length);
    for (let i = 0; i < arg.length; i++) children[i] = compileRule(arg[i], pointerJoin(at, i), env, observe, shared);
    return observed(combine(children, key === 'and' ? FALSE : TRUE), at, key, observe);
  }
  if (key === 'not') return observed(notOf(compileRule(arg, at, env, observe, shared)), at, key, observe);

  const criterion = CRITERIA_BY_NAME.get(key);
  if (!criterion) throw new RuleCompileError(at, `unknown criterion ${JSON.stringify(key)}`);
  const test = criterion.compile(arg, at, env);
  return observed(leaf(test, outcomesOf(key), criterion), at, key, observe);
}

/** The rule of one criterion; its own function so the closure holds only what it uses. */
function leaf(test: CriterionTest, { ok, no }: { ok: Outcome; no: Outcome }, criterion: Criterion): CompiledRule {
  if (criterion.needsIdentity) {
    return (ctx) => (ctx.principal === undefined ? UNAUTHENTICATED : ctx.trustedIssuers !== undefined && !ctx.trustedIssuers.has(ctx.principal.issuer) ? UNTRUSTED_ISSUER : test(ctx) ? ok : no);
  }
  if (criterion.needsTailnet) return (ctx) => (ctx.tailnet === undefined ? NO_TAILNET : test(ctx) ? ok : no);
  return (ctx) => (test(ctx) ? ok : no);
}
