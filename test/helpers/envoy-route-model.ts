// How Envoy picks a route in a RouteConfiguration, for the generated bootstrap: first one
// virtual host (exact domain, else the longest `*.suffix`, else `*`; domains compared
// case-insensitively, `host:*` for any port), then the first route inside it whose match
// accepts. test/e2e/envoy/route-order.test.ts checks this model against real Envoy.
import { RE2JS } from 're2js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const compiled = new Map<string, RE2JS>();
const fullMatch = (regex: string, value: string): boolean => {
  let re = compiled.get(regex);
  if (!re) compiled.set(regex, (re = RE2JS.compile(regex)));
  return re.testExact(value);
};

function pickVirtualHost(vhosts: Obj[], host: string): Obj | undefined {
  const h = host.toLowerCase();
  const exact = vhosts.find((v) => (v.domains as string[]).some((d) => !d.includes('*') && d === h));
  if (exact) return exact;
  let best: Obj | undefined;
  let bestLength = -1;
  for (const v of vhosts) {
    for (const d of v.domains as string[]) {
      // Envoy's suffix wildcard needs at least one character before the suffix.
      if (d.startsWith('*') && d.length > 1 && !d.endsWith(':*') && h.length > d.length - 1 && h.endsWith(d.slice(1)) && d.length > bestLength) {
        best = v;
        bestLength = d.length;
      }
    }
  }
  return best ?? vhosts.find((v) => (v.domains as string[]).includes('*'));
}

function routeAccepts(match: Obj, path: string, method: string): boolean {
  const pathOk =
    match.prefix !== undefined ? path.startsWith(match.prefix as string)
    : match.path !== undefined ? path === match.path
    : match.safe_regex !== undefined ? fullMatch(match.safe_regex.regex as string, path)
    : false;
  if (!pathOk) return false;
  for (const h of (match.headers ?? []) as Obj[]) {
    if (h.name !== ':method') throw new Error(`model: header match on ${h.name as string}`);
    if (!fullMatch(h.string_match.safe_regex.regex as string, method)) return false;
  }
  return true;
}

/** The policy route id Envoy binds a request to (context_extensions.route), or undefined: no route, Envoy's own 404. */
export function envoyRouteFor(routeConfig: Obj, host: string, path: string, method: string): string | undefined {
  const vh = pickVirtualHost(routeConfig.virtual_hosts as Obj[], host);
  const route = (vh?.routes as Obj[] | undefined)?.find((r) => routeAccepts(r.match as Obj, path, method));
  return route?.typed_per_filter_config?.['envoy.filters.http.ext_authz']?.check_settings?.context_extensions?.route as string | undefined;
}

/** The route configuration of the generated bootstrap's ingress listener. */
export function ingressRoutes(bootstrap: Obj): Obj {
  const l = (bootstrap.static_resources.listeners as Obj[]).find((x) => x.name === 'ingress')!;
  return l.filter_chains[0].filters[0].typed_config.route_config as Obj;
}
