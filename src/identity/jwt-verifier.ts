import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { claimsToPrincipal } from './claims-to-principal.js';
import { identityUnavailable, invalidToken, overloaded, type IdentityResult } from './identity-result.js';
import type { JwtIssuer } from './jwt-issuer.js';
import { KeySetUnavailable, RemoteKeySet } from './key-set.js';
import type { Principal } from './principal.js';
import { annotate, childSpan } from '../telemetry/spans.js';
import { VerifySlots, type Deadline } from './verify-slots.js';

export interface JwtVerifierOptions {
  /** Tokens longer than this are refused before any parsing. */
  readonly maxTokenBytes: number;
  /** Verified tokens kept (keyed by a hash of the token) so a token is verified once, not per request. */
  readonly cacheSize: number;
  /** Upper bound on how long a verified token is trusted without re-verification. */
  readonly cacheMaxTtlMs: number;
  /** Signature verifications running at once; more wait, or are shed when they cannot finish in time. */
  readonly maxVerifications?: number;
  /** Verifications allowed to wait for a slot (a hard memory bound when checks carry no deadline). */
  readonly maxQueuedVerifications?: number;
  /** For tests: how a key set is fetched. Default: Verdict's RemoteKeySet (key-set.ts). */
  readonly keySetFor?: (issuer: JwtIssuer) => JWTVerifyGetKey;
  /** A JWKS fetch finished (metrics, logs). */
  readonly onJwksFetch?: (issuer: string, outcome: 'ok' | 'error', detail: string) => void;
  /** A verification was shed (metrics). */
  readonly onShed?: () => void;
  /** A token was answered from the verified-token cache (true), or had to be verified (metrics). */
  readonly onCache?: (hit: boolean) => void;
}

interface IssuerEntry {
  readonly config: JwtIssuer;
  readonly keys: JWTVerifyGetKey;
  /** Verdict's own key set (absent when a test brings its own). */
  readonly keySet?: RemoteKeySet;
}

interface Inflight {
  readonly result: Promise<IdentityResult>;
  readonly deadline: Deadline;
}

// Header parameters that carry or point at key material: the key must come from our
// configured JWKS only, so a token that brings its own is refused outright.
const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export class JwtVerifier {
  readonly #issuers = new Map<string, IssuerEntry>();
  readonly #cache: LRUCache<string, Principal>;
  readonly #options: JwtVerifierOptions;
  /** One verification per distinct token however many checks carry it (a cold cache after a restart). */
  readonly #inflight = new Map<string, Inflight>();
  readonly #slots: VerifySlots;

  constructor(issuers: readonly JwtIssuer[], options: JwtVerifierOptions) {
    this.#options = options;
    for (const config of issuers) {
      const custom = options.keySetFor?.(config);
      const keySet = custom
        ? undefined
        : new RemoteKeySet({
            uri: config.jwksUri,
            timeoutMs: config.jwksTimeoutMs,
            cooldownMs: config.jwksCooldownMs,
            refreshMs: config.jwksRefreshMs,
            unknownKidIntervalMs: config.jwksMinIntervalMs,
            maxStaleMs: config.jwksMaxStaleMs,
            onFetch: (outcome, detail) => options.onJwksFetch?.(config.issuer, outcome, detail),
          });
      this.#issuers.set(config.issuer, { config, keys: custom ?? keySet!.getKey, keySet });
    }
    this.#cache = new LRUCache({ max: Math.max(1, options.cacheSize) });
    this.#slots = new VerifySlots(options.maxVerifications ?? 16, options.maxQueuedVerifications ?? 10_000);
  }

  get issuerCount(): number {
    return this.#issuers.size;
  }

  /** Verifications running and waiting now (tests, metrics). */
  get load(): { inFlight: number; queued: number; tokens: number } {
    return { inFlight: this.#slots.inFlight, queued: this.#slots.queued, tokens: this.#inflight.size };
  }

  /**
   * `deadlineMs`: when the caller stops waiting. A verification that cannot be done by
   * then is not started (`overloaded`); without one, only the queue bound sheds. A token
   * refused on sight or found in the cache is answered at once, without a promise.
   */
  verify(token: string, nowMs: number, deadlineMs?: number): IdentityResult | Promise<IdentityResult> {
    if (token.length > this.#options.maxTokenBytes) return invalidToken(`token is longer than ${this.#options.maxTokenBytes} bytes`);
    if (!COMPACT_JWS.test(token)) return invalidToken('token is not a compact JWS');

    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      if (cached.expiresAt !== undefined && cached.expiresAt * 1000 > nowMs) {
        annotate({ 'verdict.token_cache_hit': true });
        this.#options.onCache?.(true);
        return { kind: 'principal', principal: cached };
      }
      this.#cache.delete(key);
    }
    const wanted = deadlineMs !== undefined && Number.isFinite(deadlineMs) ? deadlineMs : Number.POSITIVE_INFINITY;
    const running = this.#inflight.get(key);
    if (running) {
      // Joining raises the shared deadline: the work is worth doing while anyone still waits.
      running.deadline.ms = Math.max(running.deadline.ms, wanted);
      return running.result;
    }
    annotate({ 'verdict.token_cache_hit': false });
    this.#options.onCache?.(false);
    const deadline: Deadline = { ms: wanted };
    const result = this.#verifyOnce(token, key, nowMs, deadline).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, { result, deadline });
    return result;
  }

  async #verifyOnce(token: string, cacheKey: string, nowMs: number, deadline: Deadline): Promise<IdentityResult> {
    let issuer: IssuerEntry | undefined;
    let header;
    try {
      header = decodeProtectedHeader(token);
      for (const h of FORBIDDEN_HEADERS) if (h in header) return invalidToken(`token header carries "${h}"`);
      const iss = decodeJwt(token).iss;
      issuer = iss === undefined ? undefined : this.#issuers.get(iss);
      if (issuer === undefined) return invalidToken(iss === undefined ? 'token has no iss claim' : 'token issuer is not configured');
    } catch {
      return invalidToken('token is not decodable');
    }
    const alg = header.alg;
    // Checked before verification so a disallowed algorithm never triggers a key fetch.
    if (alg === undefined || !issuer.config.algorithms.includes(alg)) return invalidToken(`algorithm ${JSON.stringify(alg)} is not allowed for this issuer`);

    const entry = issuer;
    return childSpan('verdict.token.verify', { 'verdict.issuer': entry.config.issuer, 'verdict.token_alg': alg }, () => this.#verifySigned(token, cacheKey, nowMs, deadline, entry, header));
  }

  async #verifySigned(token: string, cacheKey: string, nowMs: number, deadline: Deadline, issuer: IssuerEntry, header: ReturnType<typeof decodeProtectedHeader>): Promise<IdentityResult> {
    // The key first (a fetch may be in flight, shared with other checks), outside the
    // verification slots: waiting on the network must not hold CPU-bound capacity.
    const [protectedPart, payloadPart, signature] = token.split('.') as [string, string, string];
    let key: Awaited<ReturnType<JWTVerifyGetKey>> | JWTVerifyGetKey;
    try {
      const lookup = async () => issuer.keys(header as Parameters<JWTVerifyGetKey>[0], { protected: protectedPart, payload: payloadPart, signature });
      key = issuer.keySet?.mayFetch(header.kid) ? await childSpan('verdict.jwks.fetch', undefined, lookup) : await lookup();
    } catch (e) {
      if (e instanceof KeySetUnavailable) return identityUnavailable(`${e.message}`);
      // Several candidate keys: let jose try each (it knows how).
      if (e instanceof joseErrors.JWKSMultipleMatchingKeys) key = issuer.keys;
      else return invalidToken(describeJoseError(e));
    }

    if (!(await this.#slots.acquire(deadline))) {
      this.#options.onShed?.();
      return overloaded('token verification shed: it could not finish before the check deadline');
    }
    const started = performance.now();
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], {
        issuer: issuer.config.issuer,
        audience: [...issuer.config.audiences],
        algorithms: [...issuer.config.algorithms],
        clockTolerance: issuer.config.clockSkewSeconds,
        requiredClaims: ['exp', 'iss', 'aud'],
        currentDate: new Date(nowMs),
      }));
    } catch (e) {
      if (e instanceof KeySetUnavailable) return identityUnavailable(e.message);
      return invalidToken(describeJoseError(e));
    } finally {
      this.#slots.release(performance.now() - started);
    }
    const principal = claimsToPrincipal('jwt', payload, { groupsClaim: issuer.config.groupsClaim, assumeEmailVerified: issuer.config.assumeEmailVerified });
    if (typeof principal === 'string') return invalidToken(principal);

    const ttl = Math.min(principal.expiresAt! * 1000 - nowMs, this.#options.cacheMaxTtlMs);
    if (ttl > 0) this.#cache.set(cacheKey, principal, { ttl });
    return { kind: 'principal', principal };
  }
}

/** jose's error codes are stable and carry no token material; good for the audit log. */
function describeJoseError(e: unknown): string {
  if (e instanceof joseErrors.JOSEError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? `${e.name}: ${e.message}` : 'verification failed';
}
