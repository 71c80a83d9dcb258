import { stringCriterion } from './string-criterion.js';

/** Domain part of a verified email, lower case (domains are case-insensitive). */
export function emailDomain(email: string | undefined): string | undefined {
  if (email === undefined) return undefined;
  const at = email.lastIndexOf('@');
  return at < 0 ? undefined : email.slice(at + 1).toLowerCase();
}

export const domain = stringCriterion('domain', true, 'domain part of the verified email (lower case), string matcher', (ctx) => emailDomain(ctx.principal!.email));
