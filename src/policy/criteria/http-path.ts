import { pathLiteralProblem } from '../../request/normalize-path.js';
import { RuleCompileError, pointerJoin } from '../compile-error.js';
import type { Criterion } from './criterion.js';
import { stringCriterion } from './string-criterion.js';

const base = stringCriterion('http_path', false, 'normalized path without the query, string matcher', (ctx) => ctx.facts.path);

/**
 * A literal no normalized path can equal (or start, for `starts_with`) never matches: a deny
 * on `/%7Eadmin` or `/a//b` would silently allow. Refused at load with the normal form, as
 * `match.path` and `match.path_prefix` are (compile-match.ts).
 */
function refuseNonNormal(arg: unknown, pointer: string): void {
  const check = (value: unknown, at: string, prefix: boolean) => {
    if (typeof value !== 'string' || !value.startsWith('/')) return;
    const problem = pathLiteralProblem(value, prefix);
    if (problem) throw new RuleCompileError(at, `${JSON.stringify(value)} ${problem}`);
  };
  if (typeof arg === 'string') return check(arg, pointer, false);
  if (typeof arg !== 'object' || arg === null) return;
  for (const [key, value] of Object.entries(arg as Record<string, unknown>)) {
    if (key !== 'is' && key !== 'in' && key !== 'not_in' && key !== 'starts_with') continue;
    if (Array.isArray(value)) value.forEach((v, i) => check(v, pointerJoin(pointerJoin(pointer, key), i), false));
    else check(value, pointerJoin(pointer, key), key === 'starts_with');
  }
}

export const httpPath = {
  ...base,
  compile(arg, pointer, env) {
    refuseNonNormal(arg, pointer);
    return base.compile(arg, pointer, env);
  },
} satisfies Criterion;
