import type { EnvoySection, EnvoyUpstreamSettings, OidcConfig } from '../config/config.js';
import { SYSTEM_CA_BUNDLE } from '../config/envoy-schema.js';
import { parseDuration } from '../duration.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type UpstreamSettings = EnvoyUpstreamSettings;

/** Everything `verdict envoy-config` needs besides the policy routes (the config's `envoy` section, flags applied). */
export interface EnvoyConfigOptions {
  /** Where Envoy reaches Verdict's gRPC port. */
  readonly verdict: HostPort;
  /** The plain HTTP listener; with `tls`, it only redirects to HTTPS (or is absent). */
  readonly listen: HostPort;
  readonly admin: HostPort;
  /** ext_authz timeout: covers a login callback's round trip to the IdP (Verdict duration syntax). */
  readonly authzTimeout: string;
  /**
   * The exact paths of Verdict's own pages (the login, callback and logout of `identity.oidc`),
   * routed on every host; none without browser login. Only these: Verdict answers them itself
   * whatever route they are bound to, while any other path must be bound as Verdict's first
   * match would (a `/.verdict/` prefix bound every `/.verdict/…` path to the first route of its
   * virtual host, and sent it upstream when that route allowed it).
   */
  readonly verdictPaths: readonly string[];
  readonly tls: { readonly certFile: string; readonly keyFile: string; readonly listen: HostPort; readonly redirectHttp: boolean; readonly redirectPort: number } | undefined;
  readonly accessLog: { readonly path: string; readonly includeQuery: boolean };
  /** TLS (and with a certificate, mutual TLS) to Verdict's gRPC port, for `grpc.tls`. */
  readonly verdictTls: { readonly caFile: string; readonly sni: string | undefined; readonly certFile: string | undefined; readonly keyFile: string | undefined } | undefined;
  /** Defaults for every upstream cluster. */
  readonly upstream: UpstreamSettings;
  /** Per-upstream overrides, by origin (`https://app.example.com:443`). */
  readonly upstreams: ReadonlyMap<string, Partial<UpstreamSettings>>;
}

/** Splits `host:port` / `[v6]:port` (the schema checked the form; flags are checked here). */
export function parseHostPort(text: string, what: string): HostPort {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`${what} ${JSON.stringify(text)} is not host:port`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** A Verdict duration (`1h30m`, `250ms`) as a proto3 JSON Duration (`5400s`, `0.25s`). */
export function envoyDuration(text: string): string {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`${JSON.stringify(text)} is not a duration`);
  return `${ms / 1000}s`;
}

/** `https://App.example.com` → `https://app.example.com:443`; undefined when not http(s)://host[:port]. */
export function originKey(to: string): string | undefined {
  const m = /^(https?):\/\/(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+)(?::(\d+))?\/?$/.exec(to);
  if (!m) return undefined;
  return `${m[1]}://${m[2]!.toLowerCase()}:${m[3] ?? (m[1] === 'https' ? '443' : '80')}`;
}

/** Flags of `verdict envoy-config` that override the config's `envoy` keys. */
export interface EnvoyFlags {
  readonly verdictAddress?: string | undefined;
  readonly listen?: string | undefined;
  readonly adminListen?: string | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly tlsListen?: string | undefined;
}

/** What Verdict's own gRPC port asks of Envoy (the config's `grpc.tls`). */
export interface VerdictGrpcTls {
  /** `grpc.tls.client_ca_file` is set: Envoy must present a client certificate. */
  readonly mutual: boolean;
}

export function envoyOptions(e: EnvoySection, verdictPaths: readonly string[], flags: EnvoyFlags = {}, grpcTls?: VerdictGrpcTls): EnvoyConfigOptions {
  // A generated Envoy that cannot reach Verdict would deny everything with 503: refuse instead.
  if (grpcTls && !e.verdict_tls) throw new Error('grpc.tls is set, so Envoy must talk TLS to Verdict: set envoy.verdict_tls (ca_file that signed grpc.tls.cert_file)');
  if (grpcTls?.mutual && e.verdict_tls?.cert_file === undefined) throw new Error('grpc.tls.client_ca_file is set, so Envoy needs a client certificate: set envoy.verdict_tls.cert_file and key_file');
  const certFile = flags.tlsCert ?? e.tls?.cert_file;
  const keyFile = flags.tlsKey ?? e.tls?.key_file;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new Error('TLS needs both a certificate and a key (--tls-cert and --tls-key, or envoy.tls.cert_file and key_file)');
  if (flags.tlsListen !== undefined && certFile === undefined) throw new Error('--tls-listen needs --tls-cert and --tls-key (or envoy.tls)');
  const tlsListen = certFile !== undefined ? parseHostPort(flags.tlsListen ?? e.tls?.listen ?? '0.0.0.0:8443', flags.tlsListen !== undefined ? '--tls-listen' : 'envoy.tls.listen') : undefined;
  const upstreams = new Map<string, Partial<UpstreamSettings>>();
  e.upstreams.forEach((u, i) => {
    const key = originKey(u.to);
    if (!key) throw new Error(`envoy.upstreams[${i}].to ${JSON.stringify(u.to)} is not http(s)://host[:port]`);
    if (upstreams.has(key)) throw new Error(`envoy.upstreams[${i}].to ${JSON.stringify(u.to)} is listed twice`);
    const { to: _to, ...settings } = u;
    upstreams.set(key, settings);
  });
  return {
    verdict: parseHostPort(flags.verdictAddress ?? e.verdict_address, flags.verdictAddress !== undefined ? '--verdict-address' : 'envoy.verdict_address'),
    listen: parseHostPort(flags.listen ?? e.listen, flags.listen !== undefined ? '--listen' : 'envoy.listen'),
    admin: parseHostPort(flags.adminListen ?? e.admin_listen, flags.adminListen !== undefined ? '--admin-listen' : 'envoy.admin_listen'),
    authzTimeout: e.authz_timeout,
    verdictPaths,
    tls:
      certFile !== undefined && keyFile !== undefined && tlsListen
        ? { certFile, keyFile, listen: tlsListen, redirectHttp: e.tls?.redirect_http ?? true, redirectPort: e.tls?.redirect_port ?? tlsListen.port }
        : undefined,
    accessLog: { path: e.access_log.path, includeQuery: e.access_log.include_query },
    verdictTls: e.verdict_tls && { caFile: e.verdict_tls.ca_file, sni: e.verdict_tls.sni, certFile: e.verdict_tls.cert_file, keyFile: e.verdict_tls.key_file },
    upstream: e.upstream,
    upstreams,
  };
}

/** The built-in defaults (the config schema's), for callers without a config. */
export const DEFAULT_ENVOY_SECTION: EnvoySection = {
  verdict_address: 'verdict:9191',
  listen: '0.0.0.0:8080',
  admin_listen: '127.0.0.1:9901',
  authz_timeout: '3s',
  tls: undefined,
  verdict_tls: undefined,
  access_log: { path: '/dev/stdout', include_query: false },
  upstream: { connect_timeout: '2s', timeout: '15s', max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3, ca_file: SYSTEM_CA_BUNDLE, sni: undefined, health_check: undefined },
  upstreams: [],
};

/** Verdict's own pages, routed on every host: the browser login's paths, none without it. */
export function verdictPaths(oidc: Pick<OidcConfig, 'callback_path' | 'logout_path' | 'login_path'> | undefined): string[] {
  return oidc ? [oidc.callback_path, oidc.logout_path, oidc.login_path] : [];
}

/** `identity.oidc`'s default callback, logout and login paths. */
export const DEFAULT_VERDICT_PATHS: readonly string[] = ['/.verdict/callback', '/.verdict/logout', '/.verdict/login'];

export const DEFAULT_ENVOY_OPTIONS: EnvoyConfigOptions = envoyOptions(DEFAULT_ENVOY_SECTION, DEFAULT_VERDICT_PATHS);
