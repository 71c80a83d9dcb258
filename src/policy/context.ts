import type { Principal } from '../identity/principal.js';
import type { TailnetIdentity } from '../identity/tailnet-identity.js';
import type { RequestFacts } from '../request/facts.js';

/** Everything a compiled rule may read. `now` is passed in so evaluation stays pure. */
export interface EvalContext {
  readonly facts: RequestFacts;
  readonly principal: Principal | undefined;
  /** The tailnet peer's identity (LocalAPI whois), when the request came in on a tailnet listener. */
  readonly tailnet: TailnetIdentity | undefined;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /**
   * Issuers whose identities the route's identity criteria may match (the route's
   * `issuers`, else the configured default); undefined trusts every verified identity
   * (only when no issuer is configured at all, as in `verdict test` without a config).
   */
  readonly trustedIssuers?: ReadonlySet<string> | undefined;
}
