/**
 * A policy of `n` routes shaped like a large deployment: one app per route, each with an
 * exact host and a wildcard below it, a quarter matched by a path regex (the last route
 * always is), allow rules on groups and emails, a deny on methods.
 */
export function sizePolicy(n: number): Record<string, unknown> {
  const routes: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const regex = (n - 1 - i) % 4 === 0;
    routes.push({
      id: `app-${i}`,
      match: regex ? { hosts: [`app${i}.example.com`], path_regex: `/(d|api|v${i})/[a-z0-9/_-]*` } : { hosts: [`app${i}.example.com`, `*.app${i}.example.com`], path_prefix: '/' },
      to: `http://100.64.${Math.floor(i / 250)}.${i % 250}:8080`,
      allow: { or: [{ groups: { has_any: [`team-${i}`, 'admins'] } }, { email: { ends_with: `@team${i}.example.com` } }] },
      deny: { and: [{ http_method: { in: ['DELETE', 'PATCH'] } }, { not: { groups: { has: 'admins' } } }] },
    });
  }
  return { version: 1, routes };
}

/** Requests that reach the first route, the last route, and no route of `sizePolicy(n)`. */
export function sizeRequests(n: number): { first: { host: string; path: string }; last: { host: string; path: string }; none: { host: string; path: string } } {
  return {
    first: { host: 'app0.example.com', path: n === 1 ? '/d/x' : '/' },
    last: { host: `app${n - 1}.example.com`, path: '/api/v1/dashboards' },
    none: { host: 'nobody.example.org', path: '/' },
  };
}
