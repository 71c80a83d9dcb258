import type { EvalContext } from '../context.js';
import { compileStringMatcher, stringMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

/** A criterion that applies a string matcher to one value of the request or identity. */
export function stringCriterion(name: string, needsIdentity: boolean, summary: string, value: (ctx: EvalContext) => string | undefined, needsTailnet = false, caseInsensitive = false): Criterion {
  return {
    name,
    needsIdentity,
    needsTailnet,
    summary,
    argumentSchema: stringMatcherSchema(),
    compile(arg, pointer) {
      const test = compileStringMatcher(arg, pointer, caseInsensitive);
      return (ctx) => test(value(ctx));
    },
  };
}
