import { RuleCompileError, pointerJoin } from '../compile-error.js';
import { compileStringMatcher, stringMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

export const header: Criterion = {
  name: 'header',
  needsIdentity: false,
  summary: 'request header by `name` (case-insensitive), string matcher; an absent header matches only `not_in`',
  argumentSchema: stringMatcherSchema({ name: { type: 'string', pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" } }),
  compile(arg, pointer) {
    const { name, ...matcher } = arg as { name: string };
    // Verdict sets x-verdict-* for the upstream; in a request they only ever come from the client
    // (any spelling is stripped upstream as a spoof), so a rule on one is a rule on the client's word.
    if (name.toLowerCase().replaceAll('_', '-').startsWith('x-verdict-')) {
      throw new RuleCompileError(pointerJoin(pointer, 'name'), `${JSON.stringify(name)} is an identity header Verdict sets for the upstream: in a request it is whatever the client sent; use user, email, groups or claim`);
    }
    const lower = name.toLowerCase();
    const test = compileStringMatcher(matcher, pointer);
    return (ctx) => test(ctx.facts.headers.get(lower));
  },
};
