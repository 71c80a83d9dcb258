import type { RequestFacts } from '../request/facts.js';
import { bearerToken } from './bearer.js';
import { NO_IDENTITY, invalidToken, type IdentityResult } from './identity-result.js';
import type { JwtVerifier } from './jwt-verifier.js';

/**
 * Finds and verifies the request's credential. A bearer header that is present but
 * unusable (malformed, or no issuer configured) is a failed credential, never "anonymous
 * with a hint".
 */
export interface SessionIdentity {
  resolve(facts: RequestFacts, nowMs: number): Promise<IdentityResult>;
}

export class IdentityResolver {
  readonly #jwt: JwtVerifier;
  #sessions: SessionIdentity | undefined;

  constructor(jwt: JwtVerifier, sessions?: SessionIdentity) {
    this.#jwt = jwt;
    this.#sessions = sessions;
  }

  /** A bearer token, when present, decides alone; otherwise the browser session, if any. */
  async resolve(facts: RequestFacts, nowMs: number): Promise<IdentityResult> {
    const authorization = facts.headers.get('authorization');
    if (authorization === undefined) return this.#sessions ? this.#sessions.resolve(facts, nowMs) : NO_IDENTITY;
    const token = bearerToken(authorization);
    // Another scheme (Basic, a custom one) belongs to the upstream, not to Verdict.
    if (token === undefined) return /^bearer\b/i.test(authorization) ? invalidToken('malformed bearer header') : NO_IDENTITY;
    if (this.#jwt.issuerCount === 0) return invalidToken('no token issuer is configured');
    return this.#jwt.verify(token, nowMs);
  }
}
