import { stringCriterion } from './string-criterion.js';

export const httpPath = stringCriterion('http_path', false, 'normalized path without the query, string matcher', (ctx) => ctx.facts.path);
