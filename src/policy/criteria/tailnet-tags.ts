import { compileListMatcher, listMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

// Answered by tailscaled's LocalAPI whois for Envoy's source address, only on listeners
// configured as tailnet-facing; anything else leaves it unknown (`tailnet-unauthenticated`).
export const tailnetTags: Criterion = {
  name: 'tailnet_tags',
  needsIdentity: false,
  needsTailnet: true,
  summary: 'ACL tags of the tailnet node (`tag:server`), list matcher',
  argumentSchema: listMatcherSchema(),
  compile(arg, pointer) {
    const test = compileListMatcher(arg, pointer);
    return (ctx) => test(ctx.tailnet!.tags);
  },
};
