import { CRITERIA_BY_NAME } from './criteria/index.js';
import type { PolicySet } from './policy-set.js';

/** The ids of routes whose `allow`, `deny` or `shadow` rules name a criterion that needs an identity. */
export function routesNeedingIdentity(policy: PolicySet): string[] {
  const needs = (rule: unknown): boolean => {
    if (rule === null || typeof rule !== 'object') return false;
    if (Array.isArray(rule)) return rule.some(needs);
    return Object.entries(rule).some(([k, v]) => CRITERIA_BY_NAME.get(k)?.needsIdentity === true || ((k === 'and' || k === 'or' || k === 'not') && needs(v)));
  };
  return policy.routes
    .filter((r) => {
      const s = r.source as { allow?: unknown; deny?: unknown; shadow?: { allow?: unknown; deny?: unknown } };
      return needs(s.allow) || needs(s.deny) || needs(s.shadow?.allow) || needs(s.shadow?.deny);
    })
    .map((r) => r.id);
}

/**
 * The warning for a set whose routes need an identity when no identity source is configured
 * (the built-in defaults): those routes answer 401 to every request, which looks like a broken
 * setup unless said. Undefined when there is nothing to say.
 */
export function noIdentityWarning(hasIdentitySource: boolean, policy: PolicySet): string | undefined {
  if (hasIdentitySource) return undefined;
  const ids = routesNeedingIdentity(policy);
  if (ids.length === 0) return undefined;
  const list = ids.length > 5 ? `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more` : ids.join(', ');
  const one = ids.length === 1;
  return `no identity source is configured (identity.jwt for bearer tokens, identity.oidc for browser logins): route${one ? '' : 's'} ${list} need${one ? 's' : ''} an identity and answer${one ? 's' : ''} 401 to every request`;
}
