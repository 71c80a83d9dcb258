import { compileListMatcher, listMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

export const groups: Criterion = {
  name: 'groups',
  needsIdentity: true,
  summary: 'groups of the identity (compared case-insensitively), list matcher',
  argumentSchema: listMatcherSchema(),
  compile(arg, pointer) {
    // One rule for groups: case-insensitive, so `Banned` cannot escape a deny on `banned`.
    const test = compileListMatcher(arg, pointer, true);
    return (ctx) => test(ctx.principal!.groups);
  },
};
