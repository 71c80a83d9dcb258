import { compileStringMatcher, stringMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

export const email: Criterion = {
  name: 'email',
  needsIdentity: true,
  summary: 'verified email of the identity, string matcher',
  argumentSchema: stringMatcherSchema(),
  compile(arg, pointer, env) {
    const test = compileStringMatcher(arg, pointer, env.checkRegex);
    return (ctx) => test(ctx.principal!.email);
  },
};
