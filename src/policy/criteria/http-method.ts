import { stringCriterion } from './string-criterion.js';

export const httpMethod = stringCriterion('http_method', false, 'request method (case-sensitive, as sent), string matcher', (ctx) => ctx.facts.method);
