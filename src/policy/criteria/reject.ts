import type { Criterion } from './criterion.js';

export const reject: Criterion = {
  name: 'reject',
  needsIdentity: false,
  summary: 'never true',
  argumentSchema: { const: true },
  compile: () => () => false,
};
