import { compileStringMatcher, stringMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

/** Domain part of a verified email, lower case (domains are case-insensitive). */
export function emailDomain(email: string | undefined): string | undefined {
  if (email === undefined) return undefined;
  const at = email.lastIndexOf('@');
  return at < 0 ? undefined : email.slice(at + 1).toLowerCase();
}

export const domain: Criterion = {
  name: 'domain',
  needsIdentity: true,
  summary: 'domain part of the verified email (lower case), string matcher',
  argumentSchema: stringMatcherSchema(),
  compile(arg, pointer, env) {
    const test = compileStringMatcher(arg, pointer, env.checkRegex);
    return (ctx) => test(emailDomain(ctx.principal!.email));
  },
};
