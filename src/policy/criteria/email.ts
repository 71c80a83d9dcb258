import { stringCriterion } from './string-criterion.js';

// Emails compare case-insensitively (the identity holds them lower-cased; the policy's
// literals are lower-cased at load): `Mallory@Example.com` cannot slip past a deny.
export const email = stringCriterion('email', true, 'verified email of the identity (compared case-insensitively), string matcher', (ctx) => ctx.principal!.email, false, true);
