import { stringCriterion } from './string-criterion.js';

export const httpMethod = stringCriterion('http_method', false, 'request method (upper-cased), string matcher', (ctx) => ctx.facts.method);
