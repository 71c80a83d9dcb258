import { compileListMatcher, listMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

/**
 * A claim as a list of strings: a scalar is a list of one, numbers and booleans
 * compare by their JSON text, objects and nulls never match.
 */
export function claimValues(value: unknown): readonly string[] {
  const items = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const v of items) {
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
  }
  return out;
}

export const claim: Criterion = {
  name: 'claim',
  needsIdentity: true,
  summary: 'any claim of the identity by `name`, list matcher',
  argumentSchema: listMatcherSchema({ name: { type: 'string', minLength: 1 } }),
  compile(arg, pointer) {
    const name = (arg as { name: string }).name;
    const test = compileListMatcher(arg, pointer);
    return (ctx) => {
      const claims = ctx.principal!.claims;
      return test(Object.hasOwn(claims, name) ? claimValues(claims[name]) : []);
    };
  },
};
