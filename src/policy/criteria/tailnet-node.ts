import { compileStringMatcher, stringMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

// Answered by tailscaled's LocalAPI whois for Envoy's source address, only on listeners
// configured as tailnet-facing; anything else leaves it unknown (`tailnet-unauthenticated`).
export const tailnetNode: Criterion = {
  name: 'tailnet_node',
  needsIdentity: false,
  needsTailnet: true,
  summary: 'MagicDNS name of the tailnet node (no trailing dot), string matcher',
  argumentSchema: stringMatcherSchema(),
  compile(arg, pointer, env) {
    const test = compileStringMatcher(arg, pointer, env.checkRegex);
    return (ctx) => test(ctx.tailnet!.node);
  },
};
