import { stringCriterion } from './string-criterion.js';

export const user = stringCriterion('user', true, 'subject (`sub`) of the identity, string matcher', (ctx) => ctx.principal!.subject);
