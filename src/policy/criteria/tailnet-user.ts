import { compileStringMatcher, stringMatcherSchema } from '../matchers.js';
import type { Criterion } from './criterion.js';

// Answered by tailscaled's LocalAPI whois for Envoy's source address, only on listeners
// configured as tailnet-facing; anything else leaves it unknown (`tailnet-unauthenticated`).
export const tailnetUser: Criterion = {
  name: 'tailnet_user',
  needsIdentity: false,
  needsTailnet: true,
  summary: "login name of the tailnet node's owner (LocalAPI whois), string matcher; tagged devices have none",
  argumentSchema: stringMatcherSchema(),
  compile(arg, pointer, env) {
    const test = compileStringMatcher(arg, pointer, env.checkRegex);
    return (ctx) => test(ctx.tailnet!.user);
  },
};
