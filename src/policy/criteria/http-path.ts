import { compileStringMatcher, stringMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

export const httpPath: Criterion = {
  name: 'http_path',
  needsIdentity: false,
  summary: 'normalized path without the query, string matcher',
  argumentSchema: stringMatcherSchema(),
  compile(arg, pointer, env) {
    const test = compileStringMatcher(arg, pointer, env.checkRegex);
    return (ctx) => test(ctx.facts.path);
  },
};
