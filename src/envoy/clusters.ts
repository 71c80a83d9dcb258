import { envoyDuration, originKey, type EnvoyConfigOptions, type UpstreamSettings } from './envoy-options.js';

type Obj = Record<string, unknown>;
export const T = (name: string): string => `type.googleapis.com/${name}`;

export interface Upstream {
  readonly name: string;
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

/** `http://100.64.0.10:8080`, `https://app.tailnet.ts.net` → a cluster. */
export function upstreamOf(to: string): Upstream {
  const key = originKey(to);
  if (!key) throw new Error(`route upstream ${JSON.stringify(to)} is not http(s)://host[:port]`);
  const m = /^(https?):\/\/(.*):(\d+)$/.exec(key)!;
  const tls = m[1] === 'https';
  const host = m[2]!.replace(/^\[|\]$/g, '');
  const port = Number(m[3]);
  return { name: `upstream_${host.replace(/[^A-Za-z0-9]/g, '_')}_${port}`, key, host, port, tls };
}

export function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}

const endpoint = (cluster: string, host: string, port: number): Obj => ({
  cluster_name: cluster,
  endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }],
});

/** The settings of one upstream: its `envoy.upstreams[]` entry over `envoy.upstream`. */
export function settingsOf(u: Upstream, o: EnvoyConfigOptions): UpstreamSettings {
  return { ...o.upstream, ...o.upstreams.get(u.key) };
}

/**
 * TLS to an upstream, verified: the chain against `ca_file` (the system bundle by default)
 * and the name. Envoy checks no name by itself, so the certificate must carry the SNI name
 * (or the IP literal) as a subject alternative name.
 */
function upstreamTls(u: Upstream, s: UpstreamSettings): Obj {
  const name = s.sni ?? u.host;
  const ctx: Obj = {
    '@type': T('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext'),
    common_tls_context: {
      validation_context: {
        trusted_ca: { filename: s.ca_file },
        match_typed_subject_alt_names: [{ san_type: s.sni === undefined && isIp(u.host) ? 'IP_ADDRESS' : 'DNS', matcher: { exact: name } }],
      },
    },
  };
  // SNI carries host names only (RFC 6066).
  if (s.sni !== undefined || !isIp(u.host)) ctx.sni = name;
  return { name: 'envoy.transport_sockets.tls', typed_config: ctx };
}

export function upstreamCluster(u: Upstream, o: EnvoyConfigOptions): Obj {
  const s = settingsOf(u, o);
  const c: Obj = {
    name: u.name,
    type: isIp(u.host) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: envoyDuration(s.connect_timeout),
    circuit_breakers: {
      thresholds: [{ priority: 'DEFAULT', max_connections: s.max_connections, max_pending_requests: s.max_pending_requests, max_requests: s.max_requests, max_retries: s.max_retries }],
    },
    load_assignment: endpoint(u.name, u.host, u.port),
  };
  if (s.health_check) {
    const h = s.health_check;
    c.health_checks = [
      {
        timeout: envoyDuration(h.timeout),
        interval: envoyDuration(h.interval),
        // The same pace before the cluster's first request (Envoy's default there is 60 s).
        no_traffic_interval: envoyDuration(h.interval),
        unhealthy_threshold: h.unhealthy_threshold,
        healthy_threshold: h.healthy_threshold,
        http_health_check: { path: h.path, host: s.sni ?? u.host },
      },
    ];
    // Envoy's default panic threshold (50 %) sends traffic to every host once most are
    // unhealthy, so a one-host cluster would never be taken out: 0 makes the check count.
    c.common_lb_config = { healthy_panic_threshold: { value: 0 } };
  }
  if (u.tls) c.transport_socket = upstreamTls(u, s);
  return c;
}

/** TLS to Verdict (gRPC needs ALPN h2), verified like any upstream; a client certificate for mutual TLS. */
function verdictTls(o: EnvoyConfigOptions, t: NonNullable<EnvoyConfigOptions['verdictTls']>): Obj {
  const byIp = t.sni === undefined && isIp(o.verdict.host);
  const name = t.sni ?? o.verdict.host;
  const common: Obj = {
    alpn_protocols: ['h2'],
    validation_context: { trusted_ca: { filename: t.caFile }, match_typed_subject_alt_names: [{ san_type: byIp ? 'IP_ADDRESS' : 'DNS', matcher: { exact: name } }] },
  };
  if (t.certFile !== undefined && t.keyFile !== undefined) common.tls_certificates = [{ certificate_chain: { filename: t.certFile }, private_key: { filename: t.keyFile } }];
  const ctx: Obj = { '@type': T('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext'), common_tls_context: common };
  if (!byIp) ctx.sni = name;
  return { name: 'envoy.transport_sockets.tls', typed_config: ctx };
}

/** The cluster for Verdict: HTTP/2, gRPC health checked, no panic routing to unhealthy hosts. */
export function verdictCluster(o: EnvoyConfigOptions): Obj {
  const c: Obj = {
    name: 'verdict',
    type: isIp(o.verdict.host) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': T('envoy.extensions.upstreams.http.v3.HttpProtocolOptions'),
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
    // no_traffic_interval: Envoy's default (60 s) applies until the cluster has had traffic when
    // the next check is scheduled, so right after Envoy starts a NOT_SERVING Verdict went
    // unnoticed for a minute (seen with real Envoy 1.40 in test/e2e/envoy/fail-closed.test.ts).
    health_checks: [{ timeout: '1s', interval: '5s', no_traffic_interval: '5s', unhealthy_threshold: 2, healthy_threshold: 1, grpc_health_check: { service_name: 'envoy.service.auth.v3.Authorization' } }],
    load_assignment: endpoint('verdict', o.verdict.host, o.verdict.port),
  };
  if (o.verdictTls) c.transport_socket = verdictTls(o, o.verdictTls);
  return c;
}
