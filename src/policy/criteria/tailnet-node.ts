import { stringCriterion } from './string-criterion.js';

// Answered by tailscaled's LocalAPI whois, like tailnet_user.
export const tailnetNode = stringCriterion('tailnet_node', false, 'MagicDNS name of the tailnet node (no trailing dot), string matcher', (ctx) => ctx.tailnet!.node, true);
