/** The validated configuration, defaults filled in, paths absolute. Frozen. */
export interface JwtIssuerConfig {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  readonly groups_claim: string;
  /** Trust `email` without `email_verified: true` (the issuer only ever issues verified emails). */
  readonly assume_email_verified: boolean;
  readonly clock_skew: string;
  readonly jwks_cooldown: string;
  readonly jwks_timeout: string;
  readonly jwks_refresh: string;
  readonly jwks_min_interval: string;
  readonly jwks_max_stale: string;
}

export interface OidcConfig {
  readonly issuer: string;
  readonly client_id: string;
  /** Filled from `client_secret_file` or VERDICT_OIDC_CLIENT_SECRET when not inline. */
  readonly client_secret: string | undefined;
  readonly client_secret_file: string | undefined;
  readonly scopes: readonly string[];
  readonly callback_path: string;
  readonly logout_path: string;
  readonly login_path: string;
  readonly public_scheme: 'https' | 'http';
  readonly public_port: number | undefined;
  readonly allowed_return_hosts: readonly string[];
  readonly post_logout_redirect: string;
  readonly groups_claim: string;
  readonly assume_email_verified: boolean;
  readonly claims_refresh_interval: string;
  /** How long after a refresh fell due a session keeps its last claims while the IdP cannot be reached. */
  readonly claims_refresh_grace: string;
  /** Bound of each request to the IdP (discovery, token, UserInfo). */
  readonly http_timeout: string;
  readonly login_timeout: string;
  readonly allow_insecure_http: boolean;
}

export interface SessionConfig {
  /** base64url 32-byte keys; the first seals, all open. From `keys_file` or VERDICT_SESSION_KEYS too. */
  readonly keys: readonly string[] | undefined;
  readonly keys_file: string | undefined;
  readonly cookie_name: string;
  /** Set only to share sessions across subdomains (then the cookie is `__Secure-`, with Domain). */
  readonly cookie_domain: string | undefined;
  readonly max_age: string;
  readonly idle_timeout: string;
  readonly max_login_cookies: number;
  readonly store: { readonly type: 'memory' | 'redis'; readonly url: string | undefined; readonly prefix: string; readonly connect_timeout: string; readonly command_timeout: string };
}

export interface AdminToken {
  readonly name: string;
  /** Filled from `token_file` (or VERDICT_ADMIN_TOKEN, name `env`) when not inline. */
  readonly token: string | undefined;
  readonly token_file: string | undefined;
}

/** A field of the ext_authz `dynamic_metadata` Verdict sends Envoy (`response.dynamic_metadata`). */
export type MetadataField = 'decision_id' | 'route' | 'decision' | 'reasons' | 'status' | 'user';

export interface Config {
  /** The config file, or undefined when running on built-in defaults. */
  readonly file: string | undefined;
  readonly grpc: {
    readonly listen: string;
    readonly max_message_bytes: number;
    readonly max_concurrent_streams: number;
    readonly max_session_memory_mb: number;
    /** Absolute paths. With `client_ca_file`, Envoy must present a certificate it signed (mTLS). */
    readonly tls: { readonly cert_file: string; readonly key_file: string; readonly client_ca_file: string | undefined } | undefined;
  };
  readonly http: { readonly listen: string; readonly trusted_proxies: readonly string[]; readonly check_timeout: string };
  readonly policies: { readonly dir: string; readonly require_route_id: boolean; readonly watch: boolean; readonly allow_empty: boolean; readonly reload_debounce: string };
  readonly audit: {
    readonly sink: 'stdout' | 'file';
    readonly path: string | undefined;
    readonly include_query: boolean;
    /** Default: `sync` for the file sink, `async` for stdout. */
    readonly mode: 'sync' | 'async' | undefined;
    /** Default: `disk` (fdatasync per group commit) for a sync file sink, `os` otherwise. */
    readonly durability: 'disk' | 'os' | undefined;
    readonly max_delay: string;
    readonly checkpoint_every: number;
    readonly checkpoint_interval: string;
    readonly signing_key_file: string | undefined;
    readonly include_headers: readonly string[];
    readonly redact: readonly string[];
    readonly fail_open: boolean;
    readonly rotate_bytes: number;
    readonly rotate_interval: string;
    readonly retention_days: number;
    readonly retention_action: 'delete' | 'compress';
    /** A copy of the trail to a syslog receiver over TCP. */
    readonly syslog: { readonly address: string; readonly max_queue: number } | undefined;
  };
  readonly identity: {
    readonly max_token_bytes: number;
    readonly token_cache_size: number;
    readonly token_cache_max_ttl: string;
    /** Issuers a route without `issuers` trusts; default: the first JWT issuer, else the OIDC issuer. */
    readonly default_issuers: readonly string[] | undefined;
    readonly verify_concurrency: number;
    readonly jwt: readonly JwtIssuerConfig[];
    readonly oidc: OidcConfig | undefined;
    /** Signed identity for upstreams (`x-verdict-jwt-assertion`); key_file holds a PKCS#8 P-256 key. */
    readonly assertion: { readonly key_file: string; readonly issuer: string; readonly ttl: string; readonly groups_prefix: readonly string[] | undefined } | undefined;
    readonly session: SessionConfig;
  };
  readonly admin: { readonly tokens: readonly AdminToken[] };
  /** Tailnet identity via tailscaled's LocalAPI; absent: the tailnet criteria never match. */
  readonly tailnet: { readonly localapi_socket: string; readonly listener_addresses: readonly string[]; readonly cache_ttl: string; readonly timeout: string } | undefined;
  readonly request: { readonly xff_trusted_hops: number };
  readonly response: { readonly expose_reasons: boolean; readonly dynamic_metadata: readonly MetadataField[] };
  readonly shutdown: { readonly drain_delay: string; readonly grace_period: string };
  /** Worker processes of `serve` (node:cluster); `auto`: os.availableParallelism(). */
  readonly workers: number | 'auto';
  /** OpenTelemetry export; `tracing` absent: off. */
  readonly telemetry: {
    readonly tracing?: {
      readonly endpoint: string;
      readonly protocol: 'http/protobuf' | 'grpc';
      readonly sample_ratio: number;
      readonly service_name: string;
      readonly headers_file?: string;
      readonly max_queue_size: number;
      readonly export_timeout: string;
    };
  };
  readonly log: { readonly level: string };
  /** For `verdict envoy-config` only. Paths are Envoy's (written as given). */
  readonly envoy: EnvoySection;
}

export interface EnvoyUpstreamSettings {
  readonly connect_timeout: string;
  readonly timeout: string;
  readonly max_connections: number;
  readonly max_pending_requests: number;
  readonly max_requests: number;
  readonly max_retries: number;
  readonly ca_file: string;
  readonly sni: string | undefined;
  readonly health_check: { readonly path: string; readonly interval: string; readonly timeout: string; readonly unhealthy_threshold: number; readonly healthy_threshold: number } | undefined;
}

export interface EnvoySection {
  readonly verdict_address: string;
  readonly listen: string;
  readonly admin_listen: string;
  readonly authz_timeout: string;
  readonly tls: { readonly cert_file: string; readonly key_file: string; readonly listen: string; readonly redirect_http: boolean; readonly redirect_port: number | undefined } | undefined;
  readonly verdict_tls: { readonly ca_file: string; readonly sni: string | undefined; readonly cert_file: string | undefined; readonly key_file: string | undefined } | undefined;
  readonly access_log: { readonly path: string; readonly include_query: boolean };
  readonly upstream: EnvoyUpstreamSettings;
  readonly upstreams: readonly ({ readonly to: string } & Partial<EnvoyUpstreamSettings>)[];
}
