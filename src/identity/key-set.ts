import { createLocalJWKSet, errors as joseErrors, type CompactJWSHeaderParameters, type FlattenedJWSInput, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/**
 * The key a token needs cannot be had right now: the JWKS endpoint fails and no usable
 * key is held. An outage (503), not a bad token: the token may well be valid.
 */
export class KeySetUnavailable extends Error {
  override readonly name = 'KeySetUnavailable';
}

export interface RemoteKeySetOptions {
  readonly uri: string;
  /** One fetch's time limit. */
  readonly timeoutMs: number;
  /** Keys older than this are refetched in the background; requests keep using them meanwhile. */
  readonly refreshMs: number;
  /** Minimum time between routine refetches, and the ceiling of the retry backoff after failures. */
  readonly cooldownMs: number;
  /** A token naming a `kid` never seen triggers a fetch once this long has passed since the last one. */
  readonly unknownKidIntervalMs: number;
  /** Keys keep verifying this long after the last successful fetch while fetches fail. */
  readonly maxStaleMs: number;
  /** Largest JWKS document accepted. */
  readonly maxBytes?: number;
  readonly now?: () => number;
  /** Every fetch attempt, for metrics and logs (`detail` carries no key material). */
  readonly onFetch?: (outcome: 'ok' | 'error', detail: string) => void;
}

/**
 * One issuer's JWKS, fetched and held by Verdict rather than jose's remote set, so that
 * fetch timing is ours: all fetches are single-flight (a thousand waiting checks share one);
 * a failing endpoint is retried with backoff up to `cooldownMs` (never once per check);
 * held keys stay in use during an outage for up to `maxStaleMs`; and a rotation (an
 * unseen `kid`) is picked up within `unknownKidIntervalMs`, while a flood of random kids
 * still costs at most one fetch per interval. Key selection and import stay with jose.
 */
export class RemoteKeySet {
  readonly #o: RemoteKeySetOptions;
  readonly #now: () => number;
  #local: JWTVerifyGetKey | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #failures = 0;
  #lastError = 'no fetch yet';
  #pending: Promise<void> | undefined;
  #kids = new Set<string>();
  /** Fetches started (tests and metrics). */
  fetches = 0;

  constructor(options: RemoteKeySetOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** For jose's `jwtVerify`. Throws KeySetUnavailable on an outage, jose's JWKSNoMatchingKey for an unknown key. */
  readonly getKey = async (header: CompactJWSHeaderParameters, token: FlattenedJWSInput): Promise<Awaited<ReturnType<JWTVerifyGetKey>>> => {
    const now = this.#now();
    if (this.#local !== undefined && now - this.#fetchedAt > this.#o.maxStaleMs) {
      // Held too long without a successful fetch: only a fresh set will do.
      await this.#fetchIfAllowed(now, this.#o.unknownKidIntervalMs);
      if (this.#now() - this.#fetchedAt > this.#o.maxStaleMs) {
        throw new KeySetUnavailable(`JWKS not fetched for longer than the allowed staleness (last error: ${this.#lastError})`);
      }
    } else if (this.#local !== undefined && now - this.#fetchedAt >= this.#o.refreshMs) {
      // Stale-while-revalidate: the refresh runs behind this request, which uses the held keys.
      void this.#fetchIfAllowed(now, this.#o.cooldownMs);
    }
    if (this.#local !== undefined) {
      try {
        return await this.#local(header, token);
      } catch (e) {
        if (!(e instanceof joseErrors.JWKSNoMatchingKey)) throw e;
      }
    }
    // No held key fits: a rotation, a first use, or a made-up kid.
    await this.#fetchIfAllowed(now, this.#o.unknownKidIntervalMs);
    if (this.#local !== undefined) {
      try {
        return await this.#local(header, token);
      } catch (e) {
        if (!(e instanceof joseErrors.JWKSNoMatchingKey) || this.#failures === 0) throw e;
      }
    }
    // The last fetch failed, so the key may exist at the IdP: this is an outage, not a bad token.
    if (this.#failures > 0 || this.#local === undefined) throw new KeySetUnavailable(`no matching key held and the JWKS cannot be fetched (${this.#lastError})`);
    throw new joseErrors.JWKSNoMatchingKey();
  };

  /** Whether a lookup for this header will (probably) wait for the IdP: for tracing only. */
  mayFetch(kid: string | undefined): boolean {
    return this.#local === undefined || this.#pending !== undefined || (kid !== undefined && !this.#kids.has(kid));
  }

  /** Joins the fetch in flight, or starts one if the interval (or the failure backoff) allows. */
  #fetchIfAllowed(now: number, intervalMs: number): Promise<void> {
    if (this.#pending) return this.#pending;
    const wait = this.#failures > 0 ? Math.min(this.#o.unknownKidIntervalMs * 2 ** (this.#failures - 1), this.#o.cooldownMs) : intervalMs;
    if (now - this.#lastAttempt < wait) return Promise.resolve();
    this.#lastAttempt = now;
    this.fetches++;
    const pending = this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    this.#pending = pending;
    return pending;
  }

  async #fetch(): Promise<void> {
    try {
      const jwks = await fetchJwks(this.#o.uri, this.#o.timeoutMs, this.#o.maxBytes ?? 1_000_000);
      this.#local = createLocalJWKSet(jwks);
      this.#kids = new Set(jwks.keys.map((k) => k.kid).filter((k): k is string => typeof k === 'string'));
      this.#fetchedAt = this.#now();
      this.#failures = 0;
      this.#lastError = 'none';
      this.#o.onFetch?.('ok', `${jwks.keys.length} keys`);
    } catch (e) {
      this.#failures++;
      this.#lastError = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      this.#o.onFetch?.('error', this.#lastError);
    } finally {
      // Backoff counts from the end of the attempt, so a slow endpoint is not hit back to back.
      this.#lastAttempt = this.#now();
    }
  }
}

async function fetchJwks(uri: string, timeoutMs: number, maxBytes: number): Promise<JSONWebKeySet> {
  const res = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual', headers: { accept: 'application/json, application/jwk-set+json' } });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`JWKS endpoint answered HTTP ${res.status}`);
  }
  const text = await boundedText(res, maxBytes);
  const doc = JSON.parse(text) as unknown;
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { keys?: unknown }).keys)) throw new Error('JWKS document has no "keys" array');
  // createLocalJWKSet validates the rest; a bad document throws here and keeps the previous set.
  createLocalJWKSet(doc as JSONWebKeySet);
  return doc as JSONWebKeySet;
}

/**
 * The body as text, read no further than `maxBytes`: reading it whole first let an endpoint
 * that answers without end (or with gigabytes) fill Verdict's memory before the size check.
 */
async function boundedText(res: Response, maxBytes: number): Promise<string> {
  const tooLarge = () => new Error(`JWKS document larger than ${maxBytes} bytes`);
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
