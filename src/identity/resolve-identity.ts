import { childSpan } from '../telemetry/spans.js';
import type { RequestFacts } from '../request/facts.js';
import { bearerToken } from './bearer.js';
import { NO_IDENTITY, invalidToken, suspended, type IdentityResult } from './identity-result.js';
import type { JwtVerifier } from './jwt-verifier.js';

/**
 * Finds and verifies the request's credential. A bearer header that is present but
 * unusable (malformed, or no issuer configured) is a failed credential, never "anonymous
 * with a hint".
 */
export interface SessionIdentity {
  resolve(facts: RequestFacts, nowMs: number, answerByMs?: number): Promise<IdentityResult>;
}

/** Admin suspensions of (issuer, subject), read per request (the session store). */
export interface Suspensions {
  isSuspended(issuer: string, subject: string): Promise<boolean>;
}

export class IdentityResolver {
  readonly #jwt: JwtVerifier;
  #sessions: SessionIdentity | undefined;
  readonly #suspensions: Suspensions | undefined;

  constructor(jwt: JwtVerifier, sessions?: SessionIdentity, suspensions?: Suspensions) {
    this.#jwt = jwt;
    this.#sessions = sessions;
    this.#suspensions = suspensions;
  }

  /** A bearer token, when present, decides alone; otherwise the browser session, if any. */
  async resolve(facts: RequestFacts, nowMs: number, answerByMs?: number): Promise<IdentityResult> {
    const authorization = facts.headers.get('authorization');
    if (authorization === undefined) return this.#sessions ? this.#sessions.resolve(facts, nowMs, answerByMs) : NO_IDENTITY;
    const token = bearerToken(authorization);
    // Another scheme (Basic, a custom one) belongs to the upstream, not to Verdict.
    if (token === undefined) return /^bearer\b/i.test(authorization) ? invalidToken('malformed bearer header') : NO_IDENTITY;
    if (this.#jwt.issuerCount === 0) return invalidToken('no token issuer is configured');
    const result = await this.#jwt.verify(token, nowMs, answerByMs);
    // Checked on every request, cached token or not: a suspension takes effect on the next
    // request, as for sessions (which read the same store).
    if (result.kind === 'principal' && this.#suspensions && (await childSpan('verdict.session_store.suspended', undefined, () => this.#suspensions!.isSuspended(result.principal.issuer, result.principal.subject)))) {
      return suspended('bearer token of a suspended user');
    }
    return result;
  }
}
