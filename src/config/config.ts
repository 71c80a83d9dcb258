/** The validated configuration, defaults filled in, paths absolute. Frozen. */
export interface JwtIssuerConfig {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  readonly groups_claim: string;
  readonly clock_skew: string;
  readonly jwks_cooldown: string;
  readonly jwks_timeout: string;
}

export interface Config {
  /** The config file, or undefined when running on built-in defaults. */
  readonly file: string | undefined;
  readonly grpc: { readonly listen: string };
  readonly http: { readonly listen: string; readonly trusted_proxies: readonly string[] };
  readonly policies: { readonly dir: string; readonly require_route_id: boolean; readonly watch: boolean; readonly reload_debounce: string };
  readonly audit: { readonly sink: 'stdout' | 'file'; readonly path: string | undefined; readonly include_query: boolean; readonly max_delay: string };
  readonly identity: {
    readonly max_token_bytes: number;
    readonly token_cache_size: number;
    readonly token_cache_max_ttl: string;
    readonly jwt: readonly JwtIssuerConfig[];
  };
  readonly request: { readonly xff_trusted_hops: number };
  readonly response: { readonly expose_reasons: boolean };
  readonly shutdown: { readonly drain_delay: string; readonly grace_period: string };
  readonly log: { readonly level: string };
}
