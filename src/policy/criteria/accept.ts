import type { Criterion } from './criterion.js';

export const accept: Criterion = {
  name: 'accept',
  needsIdentity: false,
  summary: 'always true: a public route',
  argumentSchema: { const: true },
  compile: () => () => true,
};
