import type { MatchSpec } from '../policy/compile-match.js';
import type { PolicySet } from '../policy/policy-set.js';

export interface EnvoyConfigOptions {
  /** Where Envoy reaches Verdict's gRPC port. */
  readonly verdictHost: string;
  readonly verdictPort: number;
  /** Envoy's listener port. */
  readonly listenPort: number;
  /** ext_authz timeout: covers a login callback's round trip to the IdP. */
  readonly authzTimeout: string;
  /** Verdict's own path prefix (login, callback, logout), routed on every host. */
  readonly verdictPathPrefix: string;
}

export const DEFAULT_ENVOY_OPTIONS: EnvoyConfigOptions = {
  verdictHost: 'verdict',
  verdictPort: 9191,
  listenPort: 8080,
  authzTimeout: '3s',
  verdictPathPrefix: '/.verdict/',
};

type Obj = Record<string, unknown>;
const T = (name: string) => `type.googleapis.com/${name}`;

interface Upstream {
  name: string;
  host: string;
  port: number;
  tls: boolean;
}

/** `http://100.64.0.10:8080`, `https://app.tailnet.ts.net` → a cluster. */
function upstreamOf(to: string): Upstream {
  const m = /^(https?):\/\/(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+)(?::(\d+))?\/?$/.exec(to);
  if (!m) throw new Error(`route upstream ${JSON.stringify(to)} is not http(s)://host[:port]`);
  const tls = m[1] === 'https';
  const host = m[2]!.replace(/^\[|\]$/g, '');
  const port = m[3] ? Number(m[3]) : tls ? 443 : 80;
  return { name: `upstream_${host.replace(/[^A-Za-z0-9]/g, '_')}_${port}`, host, port, tls };
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}

function cluster(u: Upstream): Obj {
  const c: Obj = {
    name: u.name,
    type: isIp(u.host) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '2s',
    load_assignment: { cluster_name: u.name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: u.host, port_value: u.port } } } }] }] },
  };
  if (u.tls) {
    c.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: { '@type': T('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext'), sni: u.host },
    };
  }
  return c;
}

function routeMatch(m: MatchSpec): Obj {
  const match: Obj = m.path !== undefined ? { path: m.path } : m.path_regex !== undefined ? { safe_regex: { regex: m.path_regex } } : { prefix: m.path_prefix ?? '/' };
  if (m.methods) match.headers = [{ name: ':method', string_match: { safe_regex: { regex: m.methods.join('|') } } }];
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
      grpc_service: { envoy_grpc: { cluster_name: 'verdict' }, timeout: o.authzTimeout },
    },
  };
}

/** The cluster for Verdict: HTTP/2, gRPC health checked, no panic routing to unhealthy hosts. */
export function verdictCluster(o: EnvoyConfigOptions): Obj {
  return {
    name: 'verdict',
    type: isIp(o.verdictHost) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': T('envoy.extensions.upstreams.http.v3.HttpProtocolOptions'),
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
    health_checks: [{ timeout: '1s', interval: '5s', unhealthy_threshold: 2, healthy_threshold: 1, grpc_health_check: { service_name: 'envoy.service.auth.v3.Authorization' } }],
    load_assignment: { cluster_name: 'verdict', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: o.verdictHost, port_value: o.verdictPort } } } }] }] },
  };
}

const ACCESS_LOG_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(:AUTHORITY)%%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  'req_id=%REQ(X-REQUEST-ID)% decision_id=%DYNAMIC_METADATA(envoy.filters.http.ext_authz:decision_id)% ' +
  'route=%DYNAMIC_METADATA(envoy.filters.http.ext_authz:route)% decision=%DYNAMIC_METADATA(envoy.filters.http.ext_authz:decision)% ' +
  'reasons=%DYNAMIC_METADATA(envoy.filters.http.ext_authz:reasons)% upstream=%UPSTREAM_HOST%\n';

/**
 * Policy routes → an Envoy bootstrap: one virtual host per host, one Envoy route per policy
 * route bound to it by `context_extensions.route` (so Verdict never re-matches URLs), one
 * cluster per upstream. Routes without `match.hosts` go to a catch-all virtual host; routes
 * without `match` or `to` have no Envoy route.
 */
export function generateBootstrap(policy: PolicySet, o: EnvoyConfigOptions = DEFAULT_ENVOY_OPTIONS): Obj {
  const vhosts = new Map<string, { routes: Obj[]; first: string | undefined; cluster: string | undefined }>();
  const upstreams = new Map<string, Upstream>();
  for (const r of policy.routes) {
    const m = r.source.match as MatchSpec | undefined;
    if (!m || !r.to) continue;
    const u = upstreamOf(r.to);
    upstreams.set(u.name, u);
    for (const host of m.hosts ?? ['*']) {
      const key = host.toLowerCase().replace(/\.$/, '');
      let v = vhosts.get(key);
      if (!v) vhosts.set(key, (v = { routes: [], first: undefined, cluster: undefined }));
      v.first ??= r.id;
      v.cluster ??= u.name;
      v.routes.push({ name: r.id, match: routeMatch(m), route: { cluster: u.name }, typed_per_filter_config: perRoute(r.id) });
    }
  }
  const virtualHosts = [...vhosts.entries()]
    // Envoy picks exact domains first anyway; a stable order keeps the file diffable.
    .sort(([a], [b]) => (a === '*' ? 1 : b === '*' ? -1 : a < b ? -1 : a > b ? 1 : 0))
    .map(([host, v]) => ({
      name: host === '*' ? 'any_host' : host.replace(/^\*\./, 'wildcard.'),
      domains: host === '*' ? ['*'] : [host, `${host}:*`],
      routes: [
        // Login, callback and logout reach Verdict on every host, whatever the app routes cover.
        { name: `${v.first}-verdict`, match: { prefix: o.verdictPathPrefix }, route: { cluster: v.cluster }, typed_per_filter_config: perRoute(v.first!) },
        ...v.routes,
      ],
    }));

  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 9901 } } },
    static_resources: {
      listeners: [
        {
          name: 'ingress',
          address: { socket_address: { address: '0.0.0.0', port_value: o.listenPort } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': T('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'),
                    stat_prefix: 'ingress',
                    use_remote_address: true,
                    normalize_path: true,
                    merge_slashes: true,
                    path_with_escaped_slashes_action: 'REJECT_REQUEST',
                    common_http_protocol_options: { headers_with_underscores_action: 'REJECT_REQUEST' },
                    generate_request_id: true,
                    preserve_external_request_id: false,
                    access_log: [
                      {
                        name: 'envoy.access_loggers.stdout',
                        typed_config: { '@type': T('envoy.extensions.access_loggers.stream.v3.StdoutAccessLog'), log_format: { text_format_source: { inline_string: ACCESS_LOG_FORMAT } } },
                      },
                    ],
                    http_filters: [extAuthzFilter(o), { name: 'envoy.filters.http.router', typed_config: { '@type': T('envoy.extensions.filters.http.router.v3.Router') } }],
                    route_config: { name: 'verdict_routes', virtual_hosts: virtualHosts },
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [verdictCluster(o), ...[...upstreams.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(cluster)],
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
