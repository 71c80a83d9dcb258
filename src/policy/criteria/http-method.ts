import { RuleCompileError, pointerJoin } from '../compile-error.js';
import type { Criterion } from './criterion.js';
import { stringCriterion } from './string-criterion.js';

const base = stringCriterion('http_method', false, 'request method (upper-cased), string matcher', (ctx) => ctx.facts.method);

/**
 * Request methods are upper-case; a lower-case literal (`"delete"`) would validate and then
 * never match — a deny that silently allows. Refused at load with the fix, the same rule as
 * `match.methods` (whose schema allows only upper-case names).
 */
function refuseLowerCase(arg: unknown, pointer: string): void {
  const check = (value: unknown, at: string) => {
    if (typeof value === 'string' && value !== value.toUpperCase()) {
      throw new RuleCompileError(at, `${JSON.stringify(value)} never matches: request methods are upper-case; write ${JSON.stringify(value.toUpperCase())}`);
    }
  };
  if (typeof arg === 'string') return check(arg, pointer);
  if (typeof arg !== 'object' || arg === null) return;
  for (const [key, value] of Object.entries(arg as Record<string, unknown>)) {
    if (key === 'matches') continue; // a regex may spell a class like [A-Z] or (?i:…); not a literal
    if (Array.isArray(value)) value.forEach((v, i) => check(v, pointerJoin(pointerJoin(pointer, key), i)));
    else check(value, pointerJoin(pointer, key));
  }
}

export const httpMethod = {
  ...base,
  compile(arg, pointer, env) {
    refuseLowerCase(arg, pointer);
    return base.compile(arg, pointer, env);
  },
} satisfies Criterion;
