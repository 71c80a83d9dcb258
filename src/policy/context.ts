import type { Principal } from '../identity/principal.js';
import type { RequestFacts } from '../request/facts.js';

/** Everything a compiled rule may read. `now` is passed in so evaluation stays pure. */
export interface EvalContext {
  readonly facts: RequestFacts;
  readonly principal: Principal | undefined;
  /** Milliseconds since the epoch. */
  readonly now: number;
}
