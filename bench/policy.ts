/**
 * A 20-route policy like a mid-size deployment: hosts with wildcards, prefixes, a
 * regex, groups, emails, methods, source networks. The benchmarked request goes to
 * the last route, so route matching walks the whole list. `sourceNetworks`: the benchmarked
 * route's `source_ip` (through Envoy the client is loopback).
 */
export function benchPolicy(sourceNetworks: string[] = ['100.64.0.0/10', '10.0.0.0/8']): Record<string, unknown> {
  const routes: Record<string, unknown>[] = [];
  for (let i = 0; i < 19; i++) {
    routes.push({
      id: `app-${i}`,
      match: { hosts: [`app${i}.example.com`, `*.app${i}.example.com`], path_prefix: '/' },
      to: `http://100.64.0.${i + 1}:8080`,
      allow: { or: [{ groups: { has_any: [`team-${i}`, 'admins'] } }, { email: { ends_with: `@team${i}.example.com` } }] },
      deny: { and: [{ http_method: { in: ['DELETE', 'PATCH'] } }, { not: { groups: { has: 'admins' } } }] },
    });
  }
  routes.push({
    id: 'grafana',
    match: { hosts: ['grafana.example.com'], path_regex: '/(d|api)/[a-z0-9/_-]*' },
    to: 'http://100.101.102.103:3000',
    allow: {
      and: [
        { or: [{ groups: { has: 'sre' } }, { email: { is: 'boss@example.com' } }] },
        { source_ip: { in: sourceNetworks } },
        { header: { name: 'user-agent', not_in: ['BadBot/1.0'] } },
      ],
    },
    deny: { http_method: { in: ['DELETE'] } },
  });
  return { version: 1, routes };
}
