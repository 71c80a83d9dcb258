import type { Principal } from '../identity/principal.js';
import type { TailnetIdentity } from '../identity/tailnet-identity.js';
import type { RequestFacts } from '../request/facts.js';
import type { EvalContext } from './context.js';
import { denial, type Decision } from './decision.js';
import type { CompiledRule } from './compile-rule.js';
import type { CompiledRoute, PolicySet } from './policy-set.js';
import { refusePathParameters } from './path-parameters.js';
import { FALSE, TRUE, UNKNOWN, type Outcome } from './tri.js';

export interface EvaluateOptions {
  /** Deny any request that Envoy did not bind to a route id (`policies.require_route_id`). */
  readonly requireRouteId: boolean;
  /** Set when a presented credential failed verification: reported beside `user-unauthenticated`. */
  readonly identityError?: string | undefined;
  /** The tailnet peer's identity, for the tailnet criteria. */
  readonly tailnet?: TailnetIdentity | undefined;
  /** Issuers a route without `issuers` trusts (identity/from-config.ts `defaultIssuers`). */
  readonly defaultIssuers?: ReadonlySet<string> | undefined;
}

/** The issuers whose identities a route's identity criteria match. */
export function trustedIssuers(route: CompiledRoute, defaults: ReadonlySet<string> | undefined): ReadonlySet<string> | undefined {
  return route.issuers ?? defaults;
}

export function selectRoute(policy: PolicySet, facts: RequestFacts, requireRouteId: boolean): CompiledRoute | string {
  if (facts.routeId !== undefined) {
    return policy.byId.get(facts.routeId) ?? `Envoy named route ${JSON.stringify(facts.routeId)}, which no policy defines`;
  }
  if (requireRouteId) return 'policies.require_route_id is set and the request carries no context_extensions.route';
  return policy.index.lookup(facts) ?? 'no route matched the host and path';
}

const NO_DENY: Outcome = { value: FALSE, reasons: [] };
/** A route without `allow` allows nothing: it behaves, and reports, as `{"reject": true}`. */
const NO_ALLOW: Outcome = { value: FALSE, reasons: ['reject'] };

/**
 * One decision. Deny overrides allow; a missing allow allows nothing. When the answer
 * depends on an identity the request lacks, the caller must authenticate (401), but
 * only if some identity could change the outcome.
 */
export function evaluate(policy: PolicySet, facts: RequestFacts, principal: Principal | undefined, now: number, options: EvaluateOptions): Decision {
  const decision = evaluateAs(policy, facts, principal, now, options);
  if (!decision.allow || facts.methodOverrides.length === 0) return decision;
  // A POST the upstream may run as another method (X-HTTP-Method-Override: DELETE, ?_method=PUT)
  // is allowed only if it would be allowed as that method too, by the route Verdict would pick
  // for it: a deny on DELETE cannot be walked around with a POST that Rails runs as DELETE.
  for (const method of facts.methodOverrides) {
    // Bound by Envoy to a route whose `match.methods` leave that method out (a POST-only route),
    // the request as that method belongs where Verdict's matching puts it, as Envoy would bind it.
    const bound = facts.routeId === undefined ? undefined : policy.byId.get(facts.routeId);
    const methods = (bound?.source.match as { methods?: readonly string[] } | undefined)?.methods;
    const routeId = methods !== undefined && !methods.includes(method) ? undefined : facts.routeId;
    const as = evaluateAs(policy, { ...facts, method, routeId }, principal, now, options);
    if (!as.allow) return { ...as, detail: `as ${method} (method override of a POST): ${as.detail ?? ''}` };
  }
  return decision;
}

function evaluateAs(policy: PolicySet, facts: RequestFacts, principal: Principal | undefined, now: number, options: EvaluateOptions): Decision {
  const selected = selectRoute(policy, facts, options.requireRouteId);
  if (typeof selected === 'string') return denial(404, ['route-not-found'], undefined, selected);
  const refused = refusePathParameters(facts, selected, (f) => selectRoute(policy, f, false));
  if (refused) return refused;
  const ctx: EvalContext = { facts, principal, tailnet: options.tailnet, now, trustedIssuers: trustedIssuers(selected, options.defaultIssuers) };
  const decision = decideRules(selected.allow, selected.deny, ctx, selected.id, options);
  if (!selected.shadow) return decision;
  const shadow = decideRules(selected.shadow.allow, selected.shadow.deny, ctx, selected.id, options);
  return { ...decision, shadow: { allow: shadow.allow, status: shadow.status, reasons: shadow.reasons } };
}

function decideRules(allowRule: CompiledRule | undefined, denyRule: CompiledRule | undefined, ctx: EvalContext, route: string, options: EvaluateOptions): Decision {
  const deny = denyRule ? denyRule(ctx) : NO_DENY;
  if (deny.value === TRUE) return denial(403, deny.reasons, route, 'deny rule matched');

  const allow = allowRule ? allowRule(ctx) : NO_ALLOW;
  if (deny.value === UNKNOWN && allow.value !== FALSE) return unauthenticated(deny.reasons, route, options, 'deny rule needs an identity');
  if (allow.value === TRUE) return { allow: true, status: 200, route, reasons: allow.reasons };
  if (allow.value === UNKNOWN) return unauthenticated(allow.reasons, route, options, 'allow rule needs an identity');
  return denial(403, allow.reasons, route, allowRule ? 'allow rule did not match' : 'route has no allow rule');
}

function unauthenticated(reasons: readonly string[], route: string, options: EvaluateOptions, detail: string): Decision {
  const all = options.identityError && reasons.includes('user-unauthenticated') ? [options.identityError, ...reasons] : reasons;
  return denial(401, all, route, detail);
}
