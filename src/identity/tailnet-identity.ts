/**
 * Who a tailnet peer is, as tailscaled's LocalAPI `whois` answered for Envoy's source
 * address. Never taken from request headers (`Tailscale-User-*` can be sent by anyone).
 */
export interface TailnetIdentity {
  /** The owner's login name (`alice@example.com`); undefined for tagged devices. */
  readonly user: string | undefined;
  /** The node's MagicDNS name, without the trailing dot. */
  readonly node: string;
  readonly tags: readonly string[];
}
