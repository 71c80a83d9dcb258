import type { Criterion } from './criterion.js';

export const authenticatedUser: Criterion = {
  name: 'authenticated_user',
  needsIdentity: true,
  summary: 'any verified identity',
  argumentSchema: { const: true },
  // Only reached with a principal: the identity gate answers for anonymous callers.
  compile: () => () => true,
};
