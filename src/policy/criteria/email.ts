import { stringCriterion } from './string-criterion.js';

export const email = stringCriterion('email', true, 'verified email of the identity, string matcher', (ctx) => ctx.principal!.email);
