import { claimsToPrincipal } from '../../src/identity/claims-to-principal.js';
import type { Principal } from '../../src/identity/principal.js';
import type { TailnetIdentity } from '../../src/identity/tailnet-identity.js';
import { compilePolicy } from '../../src/policy/compile-policy.js';
import type { Decision } from '../../src/policy/decision.js';
import { evaluate } from '../../src/policy/evaluate.js';
import type { PolicySet } from '../../src/policy/policy-set.js';
import type { RequestFacts } from '../../src/request/facts.js';

export const ENV = {};

export function policyOf(routes: unknown[]): PolicySet {
  const r = compilePolicy([{ name: 'test.json', text: JSON.stringify({ version: 1, routes }) }], ENV);
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.pointer}: ${p.message}`).join('\n'));
  return r.policy;
}

export function facts(over: Partial<RequestFacts> & { headerList?: Record<string, string> } = {}): RequestFacts {
  const { headerList, ...rest } = over;
  return {
    method: 'GET',
    methodOverrides: [],
    scheme: 'https',
    host: 'app.example.com',
    path: '/',
    query: '',
    headers: new Map(Object.entries(headerList ?? {})),
    sourceIp: '100.64.1.2',
    sourcePort: 5555,
    peerIp: '100.64.1.2',
    destinationIp: '10.0.0.5',
    requestId: undefined,
    routeId: undefined,
    protocol: 'HTTP/2',
    ...rest,
  };
}

export function principal(claims: Record<string, unknown> = {}): Principal {
  const p = claimsToPrincipal('jwt', { iss: 'https://idp.test', sub: 'alice', email_verified: true, ...claims }, { groupsClaim: 'groups' });
  if (typeof p === 'string') throw new Error(p);
  return p;
}

/** Decides one request against a single route `r` holding the given allow (and deny) rules. */
export function decide(
  rules: { allow?: unknown; deny?: unknown },
  f: RequestFacts = facts(),
  who: Principal | undefined = undefined,
  now = Date.parse('2026-11-23T10:00:00Z'),
  tailnet?: TailnetIdentity,
): Decision {
  const policy = policyOf([{ id: 'r', match: { path_prefix: '/' }, ...rules }]);
  return evaluate(policy, f, who, now, { requireRouteId: false, tailnet });
}
