import { compileStringMatcher, stringMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

export const user: Criterion = {
  name: 'user',
  needsIdentity: true,
  summary: 'subject (`sub`) of the identity, string matcher',
  argumentSchema: stringMatcherSchema(),
  compile(arg, pointer, env) {
    const test = compileStringMatcher(arg, pointer, env.checkRegex);
    return (ctx) => test(ctx.principal!.subject);
  },
};
