import { compileStringMatcher, stringMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

export const header: Criterion = {
  name: 'header',
  needsIdentity: false,
  summary: 'request header by `name` (case-insensitive), string matcher; an absent header matches only `not_in`',
  argumentSchema: stringMatcherSchema({ name: { type: 'string', pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" } }),
  compile(arg, pointer) {
    const { name, ...matcher } = arg as { name: string };
    const lower = name.toLowerCase();
    const test = compileStringMatcher(matcher, pointer);
    return (ctx) => test(ctx.facts.headers.get(lower));
  },
};
