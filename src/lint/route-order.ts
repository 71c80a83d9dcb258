import type { MatchSpec } from '../policy/compile-match.js';
import type { PolicySet } from '../policy/policy-set.js';
import { pointerJoin } from '../policy/compile-error.js';
import type { Finding } from './finding.js';
import { covers, routeMatch, sharedRequest, type RouteMatch } from './route-match.js';

const rulesOf = (source: Readonly<Record<string, unknown>>): string => JSON.stringify([source.allow, source.deny]);

/**
 * Route order, as Envoy's first match: a route every request of which an earlier route takes
 * is dead (`shadowed-route`); two routes that share some requests, neither containing the
 * other, with different rules, are decided by order there (`overlapping-routes`). A specific
 * route before a general one (the earlier contained in the later) is the usual way to write
 * an exception and is not reported.
 */
export function routeOrder(policy: PolicySet, requireRouteId: boolean): Finding[] {
  const findings: Finding[] = [];
  const matched = policy.routes
    .filter((r) => r.source.match !== undefined)
    .map((r) => ({ route: r, m: routeMatch(r.source.match as MatchSpec) as RouteMatch }));
  // Only routes that can share a host are compared (a policy PR with thousands of routes must
  // not take minutes): earlier routes by exact host, plus those for any host or a wildcard.
  const byHost = new Map<string, number[]>();
  const broad: number[] = [];
  const earlierThan = (j: number): number[] => {
    const m = matched[j]!.m;
    if (m.exact === undefined || m.suffixes.length > 0) return Array.from({ length: j }, (_, i) => i);
    const out = new Set(broad);
    for (const h of m.exact) for (const i of byHost.get(h) ?? []) out.add(i);
    return [...out].sort((a, b) => a - b);
  };
  for (let j = 0; j < matched.length; j++) {
    const later = matched[j]!;
    const at = pointerJoin(later.route.pointer, 'match');
    const candidates = earlierThan(j).map((i) => matched[i]!);
    if (later.m.exact === undefined || later.m.suffixes.length > 0) broad.push(j);
    else {
      for (const h of later.m.exact) {
        const list = byHost.get(h);
        if (list) list.push(j);
        else byHost.set(h, [j]);
      }
    }
    const shadow = candidates.find((e) => covers(e.m, later.m));
    if (shadow) {
      findings.push({
        file: later.route.file,
        pointer: at,
        severity: requireRouteId ? 'warning' : 'error',
        code: 'shadowed-route',
        message: `route ${later.route.id} never matches: route ${shadow.route.id} (${shadow.route.file}:${shadow.route.pointer}) comes first and matches every request it does${requireRouteId ? ' (only reachable by its id from Envoy)' : ''}`,
      });
      continue;
    }
    for (const earlier of candidates) {
      if (covers(later.m, earlier.m) || rulesOf(earlier.route.source) === rulesOf(later.route.source)) continue;
      const shared = sharedRequest(earlier.m, later.m);
      if (!shared) continue;
      findings.push({
        file: later.route.file,
        pointer: at,
        severity: 'warning',
        code: 'overlapping-routes',
        message: `routes ${earlier.route.id} and ${later.route.id} both match requests such as ${shared.method} ${shared.host}${shared.path}, with different rules; ${earlier.route.id} comes first and wins them`,
      });
    }
  }
  return findings;
}
