import { compileStringMatcher, stringMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

export const httpMethod: Criterion = {
  name: 'http_method',
  needsIdentity: false,
  summary: 'request method (case-sensitive, as sent), string matcher',
  argumentSchema: stringMatcherSchema(),
  compile(arg, pointer, env) {
    const test = compileStringMatcher(arg, pointer, env.checkRegex);
    return (ctx) => test(ctx.facts.method);
  },
};
