import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT, calculateJwkThumbprint, exportJWK, importPKCS8, type JWK } from 'jose';
import { LRUCache } from 'lru-cache';
import { VerdictError, describeFsError, type SettingOrigin } from '../errors.js';
import type { Principal } from './principal.js';

export interface AssertionOptions {
  readonly keyFile: string;
  /** The setting that named the key file, for a problem with it (default: the file itself). */
  readonly origin?: SettingOrigin;
  readonly issuer: string;
  readonly ttlSeconds: number;
  /** Only groups starting with one of these go into the assertion (keeps the header small). */
  readonly groupsPrefix: readonly string[] | undefined;
}

type Key = Awaited<ReturnType<typeof importPKCS8>>;

/**
 * Signs `x-verdict-jwt-assertion` (ES256), so an upstream can verify who is calling
 * against `/.well-known/verdict/jwks.json` instead of trusting plain headers. A signed
 * assertion is reused for half its lifetime per (identity, audience): signing on every
 * request would cost more than the whole decision.
 */
export class AssertionSigner {
  readonly #o: AssertionOptions;
  readonly #key: Key;
  readonly #kid: string;
  readonly jwks: { keys: JWK[] };
  get kid(): string {
    return this.#kid;
  }
  readonly #cache: LRUCache<string, string>;

  private constructor(o: AssertionOptions, key: Key, kid: string, publicJwk: JWK) {
    this.#o = o;
    this.#key = key;
    this.#kid = kid;
    this.jwks = { keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }] };
    this.#cache = new LRUCache({ max: 10_000, ttl: Math.max(1, Math.floor(o.ttlSeconds / 2)) * 1000 });
  }

  static async load(o: AssertionOptions): Promise<AssertionSigner> {
    let key: Key;
    const origin = o.origin ?? { file: o.keyFile, pointer: '' };
    let pem: string;
    try {
      pem = readFileSync(o.keyFile, 'utf8');
    } catch (e) {
      throw new VerdictError('CONFIG_INVALID', 'unreadable assertion key', { problems: [{ ...origin, message: `cannot read ${o.keyFile}: ${describeFsError(e, 'file')}` }] });
    }
    try {
      key = await importPKCS8(pem, 'ES256', { extractable: true });
    } catch (e) {
      throw new VerdictError('CONFIG_INVALID', 'bad assertion key', { problems: [{ ...origin, message: `${o.keyFile} is not a PKCS#8 PEM P-256 private key (${(e as Error).message}); make one with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` }] });
    }
    const full = await exportJWK(key);
    const publicJwk: JWK = { kty: full.kty, crv: full.crv, x: full.x, y: full.y };
    return new AssertionSigner(o, key, await calculateJwkThumbprint(publicJwk), publicJwk);
  }

  #groups(groups: readonly string[]): string[] {
    const p = this.#o.groupsPrefix;
    return p === undefined ? [...groups] : groups.filter((g) => p.some((x) => g.startsWith(x)));
  }

  async sign(principal: Principal, audience: string, nowMs: number): Promise<string> {
    const groups = this.#groups(principal.groups);
    const cacheKey = createHash('sha256').update(JSON.stringify([principal.issuer, principal.subject, principal.email, groups, principal.sessionId, audience])).digest('base64url');
    const cached = this.#cache.get(cacheKey);
    if (cached) return cached;
    const now = Math.floor(nowMs / 1000);
    const claims: Record<string, unknown> = { sub: principal.subject, groups };
    if (principal.email) claims.email = principal.email;
    if (principal.sessionId) claims.sid = principal.sessionId;
    const jwt = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: this.#kid, typ: 'JWT' })
      .setIssuer(this.#o.issuer)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + this.#o.ttlSeconds)
      .setJti(randomUUID())
      .sign(this.#key);
    this.#cache.set(cacheKey, jwt);
    return jwt;
  }
}
