/**
 * What a policy may look at about one request, after normalization. Built once per
 * request by `from-check-request.ts` (gRPC) or the HTTP adapters; plain data only.
 */
export interface RequestFacts {
  /** Request method as sent (`GET`). */
  readonly method: string;
  /**
   * For a POST: other methods the upstream framework may run it as (method-override headers,
   * a `_method` query parameter; method-override.ts), upper-cased; usually empty. The request
   * is allowed only when it would be allowed as each of them too.
   */
  readonly methodOverrides: readonly string[];
  /** `http` or `https` as Envoy saw it. */
  readonly scheme: string;
  /** Normalized host: lower case, no port, no trailing dot. */
  readonly host: string;
  /** Normalized path, without the query (see normalize-path.ts). */
  readonly path: string;
  /** The query string without `?`, or '' when none. Audited only on opt-in. */
  readonly query: string;
  /** Request headers, names lower case. Never audited. */
  readonly headers: ReadonlyMap<string, string>;
  /** Envoy's view of the downstream peer (or the trusted x-forwarded-for hop). */
  readonly sourceIp: string | undefined;
  readonly sourcePort: number | undefined;
  /**
   * Envoy's downstream peer itself (the connection's address, `sourcePort`'s pair), never taken
   * from a header: what the tailnet identity is looked up by. A tailnet node connects to Envoy
   * directly, so an `x-forwarded-for` entry it sent is only its claim. Undefined in the HTTP
   * modes (the peer there is the proxy).
   */
  readonly peerIp: string | undefined;
  /** The address the connection came in on (Envoy's listener): tells tailnet listeners apart. */
  readonly destinationIp: string | undefined;
  /** Envoy's `x-request-id`, when present. */
  readonly requestId: string | undefined;
  /** `context_extensions.route`, when Envoy bound the request to a route id. */
  readonly routeId: string | undefined;
  /** HTTP protocol as Envoy reported it (`HTTP/1.1`, `HTTP/2`). */
  readonly protocol: string | undefined;
}
