import { foldCase } from '../fold-case.js';
import { stringCriterion } from './string-criterion.js';

/** Domain part of a verified email (the identity only holds emails with exactly one `@`), lower case. */
export function emailDomain(email: string | undefined): string | undefined {
  if (email === undefined) return undefined;
  const at = email.indexOf('@');
  return at < 0 || email.indexOf('@', at + 1) >= 0 ? undefined : foldCase(email.slice(at + 1));
}

export const domain = stringCriterion('domain', true, 'domain part of the verified email (compared case-insensitively), string matcher', (ctx) => emailDomain(ctx.principal!.email), false, true);
