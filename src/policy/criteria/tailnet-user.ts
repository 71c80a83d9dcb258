import { stringCriterion } from './string-criterion.js';

// Answered by tailscaled's LocalAPI whois for Envoy's source address, only on listeners
// configured as tailnet-facing; anything else leaves it unknown (`tailnet-unauthenticated`).
export const tailnetUser = stringCriterion(
  'tailnet_user',
  false,
  "login name of the tailnet node's owner (LocalAPI whois), string matcher; tagged devices have none",
  (ctx) => ctx.tailnet!.user,
  true,
);
