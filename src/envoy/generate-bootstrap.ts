import type { MatchSpec } from '../policy/compile-match.js';
import type { PolicySet } from '../policy/policy-set.js';
import { normalizeHost } from '../policy/host-pattern.js';
import { T, upstreamCluster, upstreamOf, verdictCluster, type Upstream } from './clusters.js';
import { DEFAULT_ENVOY_OPTIONS, envoyDuration, type EnvoyConfigOptions, type HostPort } from './envoy-options.js';

export { DEFAULT_ENVOY_OPTIONS, type EnvoyConfigOptions } from './envoy-options.js';
export { verdictCluster } from './clusters.js';

type Obj = Record<string, unknown>;

const escapeRe = (t: string) => t.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');

/**
 * A path literal as an RE2 pattern that also accepts its percent-escapes in lower case
 * (`/caf%C3%A9` → `/caf%[Cc]3%[Aa]9`): Envoy matches routes on the path with escapes as the
 * client wrote them, Verdict on its normal form (escapes upper-cased). A plain `prefix` of
 * `/caf%C3%A9` let `/caf%c3%a9` fall to a later Envoy route than Verdict's first match.
 */
const literalRe = (t: string): string =>
  t
    .split(/(%[0-9A-Fa-f]{2})/)
    .map((part, i) => (i % 2 === 1 ? `%${[...part.slice(1)].map((c) => (/[A-Fa-f]/.test(c) ? `[${c.toUpperCase()}${c.toLowerCase()}]` : c)).join('')}` : escapeRe(part)))
    .join('');

/** Whether a path literal has an escape with a hex letter, whose case Envoy compares as sent. */
const hasLetterEscape = (t: string): boolean => /%(?:[A-Fa-f][0-9A-Fa-f]|[0-9][A-Fa-f])/.test(t);

/**
 * For a route with `allow_path_parameters`: its exact path or prefix with `;…` allowed after
 * every whole segment (`/shop/cart` → `^/shop(;[^/]*)?/cart(;[^/]*)?$`), so Envoy sends
 * `/shop;x/cart;jsessionid=1` to the route Verdict will decide it under (Verdict refuses a
 * path with parameters on any other route).
 */
function withParameters(text: string, exact: boolean): string {
  const parts = text.split('/').slice(1);
  const last = parts.length - 1;
  const body = parts.map((seg, i) => `/${literalRe(seg)}${exact || i < last ? '(;[^/]*)?' : ''}`).join('');
  return `^${body}${exact ? '' : '.*'}$`;
}

function routeMatch(m: MatchSpec, pathParameters = false): Obj {
  const match: Obj =
    m.path !== undefined
      ? pathParameters ? { safe_regex: { regex: withParameters(m.path, true) } } : hasLetterEscape(m.path) ? { safe_regex: { regex: literalRe(m.path) } } : { path: m.path }
      : m.path_regex !== undefined
        ? { safe_regex: { regex: m.path_regex } }
        : pathParameters && (m.path_prefix ?? '/') !== '/'
          ? { safe_regex: { regex: withParameters(m.path_prefix!, false) } }
          : m.path_prefix !== undefined && hasLetterEscape(m.path_prefix) ? { safe_regex: { regex: `${literalRe(m.path_prefix)}.*` } } : { prefix: m.path_prefix ?? '/' };
  // Case-insensitive, as Verdict matches methods (upper-cased): over HTTP/2 Envoy passes a
  // `:method` of `delete` through, and a case-sensitive `DELETE` here let Envoy bind it to a
  // later route than Verdict's first match (a `methods: ["DELETE"]` route skipped).
  if (m.methods) match.headers = [{ name: ':method', string_match: { safe_regex: { regex: `(?i)(?:${m.methods.join('|')})` } } }];
  return match;
}

export const perRoute = (id: string): Obj => ({
  'envoy.filters.http.ext_authz': {
    '@type': T('envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute'),
    check_settings: { context_extensions: { route: id } },
  },
});

/** The ext_authz filter with Verdict's safe defaults: fail closed, 503 on error, V3, a timeout. */
export function extAuthzFilter(o: EnvoyConfigOptions): Obj {
  return {
    name: 'envoy.filters.http.ext_authz',
    typed_config: {
      '@type': T('envoy.extensions.filters.http.ext_authz.v3.ExtAuthz'),
      transport_api_version: 'V3',
      failure_mode_allow: false,
      status_on_error: { code: 'ServiceUnavailable' },
      grpc_service: { envoy_grpc: { cluster_name: 'verdict' }, timeout: envoyDuration(o.authzTimeout) },
    },
  };
}

/**
 * One line per request, with Verdict's decision from the ext_authz dynamic metadata (Envoy
 * files it under the filter's name). The path is printed without its query string unless
 * asked: queries carry tokens and personal data (Verdict's audit leaves them out too).
 */
export function accessLogFormat(includeQuery: boolean): string {
  const path = includeQuery ? '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%' : '%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)%';
  const meta = (key: string) => `%DYNAMIC_METADATA(envoy.filters.http.ext_authz:${key})%`;
  return (
    `[%START_TIME%] "%REQ(:METHOD)% %REQ(:AUTHORITY)%${path}" %RESPONSE_CODE% %RESPONSE_FLAGS% ` +
    `req_id=%REQ(X-REQUEST-ID)% decision_id=${meta('decision_id')} route=${meta('route')} decision=${meta('decision')} ` +
    `reasons=${meta('reasons')} upstream=%UPSTREAM_HOST%\n`
  );
}

function accessLog(o: EnvoyConfigOptions): Obj[] {
  const log_format: Obj = { text_format_source: { inline_string: accessLogFormat(o.accessLog.includeQuery) } };
  if (!o.accessLog.includeQuery) {
    log_format.formatters = [{ name: 'envoy.formatter.req_without_query', typed_config: { '@type': T('envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery') } }];
  }
  // Envoy's own stream loggers: opening /dev/stdout or /dev/stderr fails when they are sockets.
  if (o.accessLog.path === '/dev/stdout') return [{ name: 'envoy.access_loggers.stdout', typed_config: { '@type': T('envoy.extensions.access_loggers.stream.v3.StdoutAccessLog'), log_format } }];
  if (o.accessLog.path === '/dev/stderr') return [{ name: 'envoy.access_loggers.stderr', typed_config: { '@type': T('envoy.extensions.access_loggers.stream.v3.StderrAccessLog'), log_format } }];
  return [{ name: 'envoy.access_loggers.file', typed_config: { '@type': T('envoy.extensions.access_loggers.file.v3.FileAccessLog'), path: o.accessLog.path, log_format } }];
}

const socket = (a: HostPort): Obj => ({ socket_address: { address: a.host, port_value: a.port } });
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': T('envoy.extensions.filters.http.router.v3.Router') } };

/** The connection manager both listeners share: normalized paths, no underscore headers, request ids, the access log. */
function connectionManager(statPrefix: string, o: EnvoyConfigOptions, httpFilters: Obj[], routeConfig: Obj): Obj {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': T('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'),
      stat_prefix: statPrefix,
      use_remote_address: true,
      normalize_path: true,
      merge_slashes: true,
      path_with_escaped_slashes_action: 'REJECT_REQUEST',
      common_http_protocol_options: { headers_with_underscores_action: 'REJECT_REQUEST' },
      generate_request_id: true,
      preserve_external_request_id: false,
      // Host as Verdict reads it: `app.example.com.` is app.example.com's virtual host, not `*`'s.
      strip_trailing_host_dot: true,
      access_log: accessLog(o),
      http_filters: httpFilters,
      route_config: routeConfig,
    },
  };
}

/** TLS termination from certificate files (Envoy re-reads them when they change). */
function downstreamTls(tls: NonNullable<EnvoyConfigOptions['tls']>): Obj {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': T('envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext'),
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
        alpn_protocols: ['h2', 'http/1.1'],
        tls_certificates: [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }],
      },
    },
  };
}

/** Plain HTTP on `listen` that only answers 301 to the same URL on HTTPS. */
function redirectListener(o: EnvoyConfigOptions, tls: NonNullable<EnvoyConfigOptions['tls']>): Obj {
  const redirect: Obj = { https_redirect: true, port_redirect: tls.redirectPort };
  return {
    name: 'ingress_http_redirect',
    address: socket(o.listen),
    filter_chains: [
      {
        filters: [
          connectionManager('ingress_http_redirect', o, [ROUTER], {
            name: 'https_redirect',
            virtual_hosts: [{ name: 'https_redirect', domains: ['*'], routes: [{ name: 'https_redirect', match: { prefix: '/' }, redirect }] }],
          }),
        ],
      },
    ],
  };
}

/**
 * Which policy routes (positions, in policy order) each Envoy virtual host must carry so that
 * Envoy's choice equals Verdict's first match over the whole list. Envoy first picks one
 * virtual host (exact domain, else the longest `*.` suffix, else `*`) and only then the first
 * route inside it, so a virtual host holds every route that can match any host it receives:
 * - exact `h`: routes naming `h`, routes with a wildcard above `h`, routes for any host;
 * - `*.s`: routes with that wildcard or a broader one (`*.t`, `.t` a suffix of `.s`) and
 *   routes for any host (hosts below `.s` with their own virtual host never arrive here);
 * - `*`: routes for any host.
 * Without this an earlier `*.corp.test` rule for `/admin` or an earlier any-host rule was
 * skipped by Envoy for every host that had its own virtual host (a bypass of that rule).
 */
export function virtualHostRoutes(policy: PolicySet): Map<string, number[]> {
  const anyHost: number[] = [];
  const exact = new Map<string, number[]>();
  const suffix = new Map<string, number[]>();
  const add = (map: Map<string, number[]>, key: string, i: number) => {
    const list = map.get(key);
    if (!list) map.set(key, [i]);
    else if (list.at(-1) !== i) list.push(i);
  };
  policy.routes.forEach((r, i) => {
    const m = r.source.match as MatchSpec | undefined;
    if (!m) return;
    if (m.hosts === undefined) return void anyHost.push(i);
    for (const h of m.hosts) {
      const n = normalizeHost(h);
      if (n.startsWith('*.')) add(suffix, n.slice(1), i);
      else add(exact, n, i);
    }
  });
  const merged = (...lists: (readonly number[] | undefined)[]): number[] => [...new Set(lists.flatMap((l) => l ?? []))].sort((a, b) => a - b);
  const dotSuffixes = (name: string, from: number): string[] => {
    const out: string[] = [];
    for (let i = name.indexOf('.', from); i >= 0; i = name.indexOf('.', i + 1)) out.push(name.slice(i));
    return out;
  };
  const out = new Map<string, number[]>();
  for (const [h, own] of exact) out.set(h, merged(anyHost, own, ...dotSuffixes(h, 1).map((s) => suffix.get(s))));
  for (const s of suffix.keys()) out.set(`*${s}`, merged(anyHost, ...dotSuffixes(s, 0).map((t) => suffix.get(t))));
  if (anyHost.length > 0) out.set('*', anyHost);
  return out;
}

/**
 * Headers with which a client could name another host or path than the one Verdict decided on,
 * for an upstream that trusts its proxy's forwarding headers (`X-Forwarded-Host` for the host
 * or tenant, IIS/Symfony-style `X-Original-URL`/`X-Rewrite-URL` for the path). This Envoy is
 * the edge (`use_remote_address`): whatever a client sent in them is not the request Verdict
 * decided, so they never reach the upstream.
 */
export const CLIENT_REWRITE_HEADERS = ['x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-uri', 'x-original-url', 'x-original-uri', 'x-rewrite-url', 'x-original-host'] as const;

/** Envoy answers a route whose policy route has no `to` itself, after Verdict allowed it: there is nowhere to send it. */
const NO_UPSTREAM: Obj = { status: 404, body: { inline_string: 'no upstream for this route\n' } };

/**
 * Policy routes → an Envoy bootstrap: one virtual host per host, one Envoy route per policy
 * route bound to it by `context_extensions.route` (so Verdict never re-matches URLs), one
 * cluster per upstream. Every virtual host repeats, in policy order, the wildcard and any-host
 * routes that can match its hosts (virtualHostRoutes), so Envoy picks the route Verdict's
 * first match picks. A route with `match` but no `to` keeps its place too: Verdict decides it
 * and Envoy answers an allowed request 404 itself. Routes without `match` have no Envoy route.
 */
export function generateBootstrap(policy: PolicySet, o: EnvoyConfigOptions = DEFAULT_ENVOY_OPTIONS): Obj {
  const upstreams = new Map<string, Upstream>();
  const routeAction = (u: Upstream): Obj => ({ cluster: u.name, timeout: envoyDuration((o.upstreams.get(u.key) ?? {}).timeout ?? o.upstream.timeout) });
  const upstreamOfRoute = policy.routes.map((r) => {
    if (!r.source.match || !r.to) return undefined;
    const u = upstreamOf(r.to);
    upstreams.set(u.name, u);
    return u;
  });
  const envoyRoute = (i: number): Obj => {
    const r = policy.routes[i]!;
    const u = upstreamOfRoute[i];
    const action = u ? { route: routeAction(u) } : { direct_response: NO_UPSTREAM };
    return { name: r.id, match: routeMatch(r.source.match as MatchSpec, r.source.allow_path_parameters === true), ...action, typed_per_filter_config: perRoute(r.id) };
  };
  const used = new Set([...upstreams.values()].map((u) => u.key));
  for (const key of o.upstreams.keys()) {
    if (!used.has(key)) throw new Error(`envoy.upstreams: ${key} is no route's \`to\` (known: ${[...used].sort().join(', ') || 'none'})`);
  }
  const flowPaths = [...new Set(o.verdictPaths)];
  // A new object per virtual host: a shared one would print as a YAML alias.
  const verdictPaths = (): Obj | undefined =>
    flowPaths.length === 0 ? undefined : flowPaths.length === 1 ? { path: flowPaths[0] } : { safe_regex: { regex: flowPaths.map(escapeRe).join('|') } };
  const virtualHosts = [...virtualHostRoutes(policy).entries()]
    // Envoy picks exact domains first anyway; a stable order keeps the file diffable.
    .sort(([a], [b]) => (a === '*' ? 1 : b === '*' ? -1 : a < b ? -1 : a > b ? 1 : 0))
    .map(([host, positions]) => {
      const first = policy.routes[positions[0]!]!.id;
      const cluster = positions.map((i) => upstreamOfRoute[i]).find((u) => u !== undefined);
      return {
        name: host === '*' ? 'any_host' : host.replace(/^\*\./, 'wildcard.'),
        domains: host === '*' ? ['*'] : [host, `${host}:*`],
        routes: [
          // Login, callback and logout reach Verdict on every host, whatever the app routes cover.
          // Exactly those paths: Verdict answers them itself, never the upstream.
          ...(flowPaths.length > 0 ? [{ name: `${first}-verdict`, match: verdictPaths(), ...(cluster ? { route: routeAction(cluster) } : { direct_response: NO_UPSTREAM }), typed_per_filter_config: perRoute(first) }] : []),
          ...positions.map(envoyRoute),
        ],
      };
    });

  const ingress: Obj = {
    name: 'ingress',
    address: socket(o.tls ? o.tls.listen : o.listen),
    filter_chains: [
      {
        ...(o.tls ? { transport_socket: downstreamTls(o.tls) } : {}),
        filters: [connectionManager('ingress', o, [extAuthzFilter(o), ROUTER], { name: 'verdict_routes', virtual_hosts: virtualHosts, request_headers_to_remove: [...CLIENT_REWRITE_HEADERS] })],
      },
    ],
  };
  const listeners = [ingress];
  if (o.tls?.redirectHttp) listeners.push(redirectListener(o, o.tls));
  return {
    admin: { address: socket(o.admin) },
    static_resources: {
      listeners,
      clusters: [verdictCluster(o), ...[...upstreams.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((u) => upstreamCluster(u, o))],
    },
  };
}

/**
 * For an Envoy that already exists: the pieces to add by hand. Each is a complete message
 * of its Envoy type (HttpFilter, Cluster, Route), so each can be checked on its own.
 */
export function generateSnippets(policy: PolicySet, o: EnvoyConfigOptions = DEFAULT_ENVOY_OPTIONS): { title: string; type: string; value: Obj }[] {
  const out = [
    { title: 'HTTP filter: add to your HttpConnectionManager http_filters, before envoy.filters.http.router', type: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', value: extAuthzFilter(o) },
    { title: 'Cluster: Verdict over HTTP/2 with gRPC health checks', type: 'envoy.config.cluster.v3.Cluster', value: verdictCluster(o) },
  ];
  for (const r of policy.routes) {
    out.push({
      title: `Route ${r.id}: add typed_per_filter_config to the Envoy route that serves it`,
      type: 'envoy.config.route.v3.Route',
      value: { name: r.id, typed_per_filter_config: perRoute(r.id) },
    });
  }
  return out;
}
