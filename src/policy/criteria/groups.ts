import { compileListMatcher, listMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

export const groups: Criterion = {
  name: 'groups',
  needsIdentity: true,
  summary: 'groups of the identity, list matcher',
  argumentSchema: listMatcherSchema(),
  compile(arg, pointer) {
    const test = compileListMatcher(arg, pointer);
    return (ctx) => test(ctx.principal!.groups);
  },
};
