import { childSpan, recording } from '../telemetry/spans.js';
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
  /** Answered at once by a store that keeps suspensions in memory. */
  suspendedNow?(issuer: string, subject: string): boolean;
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

  /**
   * A bearer token, when present, decides alone; otherwise the browser session, if any.
   * Answers without a promise when nothing has to be waited for (a token in the cache, no
   * suspension store, no credential at all): the common case costs no microtask hop.
   */
  resolve(facts: RequestFacts, nowMs: number, answerByMs?: number): IdentityResult | Promise<IdentityResult> {
    const authorization = facts.headers.get('authorization');
    if (authorization === undefined) return this.#sessions ? this.#sessions.resolve(facts, nowMs, answerByMs) : NO_IDENTITY;
    const token = bearerToken(authorization);
    // Another scheme (Basic, a custom one) belongs to the upstream, not to Verdict.
    if (token === undefined) return /^bearer\b/i.test(authorization) ? invalidToken('malformed bearer header') : NO_IDENTITY;
    if (this.#jwt.issuerCount === 0) return invalidToken('no token issuer is configured');
    const result = this.#jwt.verify(token, nowMs, answerByMs);
    const suspensions = this.#suspensions;
    if (!suspensions) return result;
    // A memory store answers at once; traced, the check keeps its child span.
    if (!(result instanceof Promise) && suspensions.suspendedNow && !recording()) {
      return result.kind === 'principal' && suspensions.suspendedNow(result.principal.issuer, result.principal.subject) ? suspended('bearer token of a suspended user') : result;
    }
    return this.#unlessSuspended(result, suspensions);
  }

  /**
   * Checked on every request, cached token or not: a suspension takes effect on the next
   * request, as for sessions (which read the same store).
   */
  async #unlessSuspended(verifying: IdentityResult | Promise<IdentityResult>, suspensions: Suspensions): Promise<IdentityResult> {
    const result = await verifying;
    if (result.kind === 'principal' && (await childSpan('verdict.session_store.suspended', undefined, () => suspensions.isSuspended(result.principal.issuer, result.principal.subject)))) {
      return suspended('bearer token of a suspended user');
    }
    return result;
  }
}
