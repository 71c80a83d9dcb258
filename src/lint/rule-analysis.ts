import { pointerJoin } from '../policy/compile-error.js';
import { CRITERIA_BY_NAME } from '../policy/criteria/index.js';

/** What a rule can evaluate to for a request without identity: T, F, U (needs identity). */
export type Value = 'T' | 'F' | 'U';

export interface RuleFacts {
  /** Outcomes possible for some request (with any identity): a single value means constant. */
  readonly any: ReadonlySet<'T' | 'F'>;
  /** Outcomes possible for a request without identity. */
  readonly anonymous: ReadonlySet<Value>;
  /** Why it is constant, when it is: the node that makes it so. */
  readonly because?: string | undefined;
}

const IDENTITY_CRITERIA = new Set(['authenticated_user', 'user', 'email', 'domain', 'groups', 'claim', 'session_age']);

/** Clock strings as the criterion reads them (HH:MM). */
const minutes = (s: unknown): number | undefined => {
  const m = typeof s === 'string' ? /^(\d{2}):(\d{2})$/.exec(s) : null;
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
};

/** A criterion that cannot be true for any request, from its argument alone. */
function impossible(name: string, arg: unknown): string | undefined {
  const a = (arg ?? {}) as Record<string, unknown>;
  if (name === 'time_of_day') {
    const after = minutes(a.after) ?? 0;
    const before = minutes(a.before) ?? 24 * 60;
    if (after === before && a.after !== undefined && a.before !== undefined) return 'the time window is empty (after equals before)';
  }
  if (name === 'date' && typeof a.after === 'string' && typeof a.before === 'string' && Date.parse(a.after) >= Date.parse(a.before)) return 'the date range is empty (after is not before before)';
  for (const k of ['in', 'has_any'] as const) if (Array.isArray(a[k]) && (a[k] as unknown[]).length === 0) return `"${k}" names nothing`;
  return undefined;
}

function cross<A, B>(xs: ReadonlySet<A>, ys: ReadonlySet<A>, f: (x: A, y: A) => B): Set<B> {
  const out = new Set<B>();
  for (const x of xs) for (const y of ys) out.add(f(x, y));
  return out;
}

// Kleene logic, as compile-rule.ts evaluates and/or/not.
const and3 = (x: Value, y: Value): Value => (x === 'F' || y === 'F' ? 'F' : x === 'U' || y === 'U' ? 'U' : 'T');
const or3 = (x: Value, y: Value): Value => (x === 'T' || y === 'T' ? 'T' : x === 'U' || y === 'U' ? 'U' : 'F');
const not3 = (x: Value): Value => (x === 'T' ? 'F' : x === 'F' ? 'T' : 'U');

/**
 * Abstract evaluation of a rule over every possible request: which outcomes it can have, and
 * which a request without identity can give. Each maximal constant sub-rule (other than a bare
 * `accept`/`reject`, which say what they mean) is reported through `constant`.
 */
export function analyzeRule(rule: unknown, pointer: string, constant: (pointer: string, value: boolean, because: string) => void): RuleFacts {
  const walk = (node: unknown, at: string, report: boolean): RuleFacts => {
    const [key] = Object.keys(node as object);
    const arg = (node as Record<string, unknown>)[key!];
    const here = pointerJoin(at, key!);
    let facts: RuleFacts;
    if (key === 'and' || key === 'or') {
      const kids = (arg as unknown[]).map((r, i) => walk(r, pointerJoin(here, i), false));
      const op = key === 'and' ? and3 : or3;
      const any = kids.map((k) => k.any as ReadonlySet<Value>).reduce((a, b) => cross(a, b, op));
      const anonymous = kids.map((k) => k.anonymous).reduce((a, b) => cross(a, b, op));
      const decisive = kids.find((k) => k.any.size === 1 && k.any.has(key === 'and' ? 'F' : 'T'));
      facts = { any: any as Set<'T' | 'F'>, anonymous, because: decisive ? (decisive.because ?? 'a constant part') : kids.find((k) => k.because)?.because };
      if (facts.any.size === 1) {
        if (report) constant(here, facts.any.has('T'), facts.because ?? 'every part is constant');
        return facts;
      }
      // Not constant as a whole: report its constant parts that are not bare literals.
      (arg as unknown[]).forEach((r, i) => walk(r, pointerJoin(here, i), true));
      return facts;
    }
    if (key === 'not') {
      const inner = walk(arg, here, false);
      facts = { any: new Set([...inner.any].map((v) => not3(v) as 'T' | 'F')), anonymous: new Set([...inner.anonymous].map(not3)), because: inner.because ?? `${here} negates a constant` };
      if (facts.any.size === 1 && report) constant(here, facts.any.has('T'), facts.because ?? `${here} negates a constant`);
      else if (facts.any.size > 1) walk(arg, here, true);
      return facts;
    }
    if (key === 'accept') return { any: new Set(['T']), anonymous: new Set(['T']), because: `${here} is always true` };
    if (key === 'reject') return { any: new Set(['F']), anonymous: new Set(['F']), because: `${here} is never true` };
    const why = impossible(key!, arg);
    const needsIdentity = CRITERIA_BY_NAME.get(key!)?.needsIdentity ?? IDENTITY_CRITERIA.has(key!);
    if (why) {
      facts = { any: new Set(['F']), anonymous: new Set([needsIdentity ? 'U' : 'F']), because: `${here}: ${why}` };
      if (report) constant(here, false, facts.because!);
      return facts;
    }
    return { any: new Set(['T', 'F']), anonymous: needsIdentity ? new Set(['U']) : new Set(['T', 'F']) };
  };
  return walk(rule, pointer, true);
}

/** Whether a rule names an identity (users, groups, emails, domains, claims) anywhere. */
export function namesIdentity(rule: unknown): boolean {
  if (rule === null || typeof rule !== 'object') return false;
  if (Array.isArray(rule)) return rule.some(namesIdentity);
  return Object.entries(rule).some(([k, v]) => (IDENTITY_CRITERIA.has(k) && k !== 'session_age') || (k === 'and' || k === 'or' || k === 'not' ? namesIdentity(v) : false));
}
