import { createHash } from 'node:crypto';
import { EncryptJWT, base64url, decodeProtectedHeader, jwtDecrypt, type JWTPayload } from 'jose';

/** Tokens longer than this are refused unopened: browsers cap cookies near 4 KiB anyway. */
export const MAX_SEALED_BYTES = 4000;

/**
 * Authenticated encryption for cookies (JWE, `dir` + A256GCM, via jose). The first key
 * seals, every key opens, so keys rotate by prepending a new one. `purpose` is bound
 * into the token (as `aud`) so a login-state cookie can never pass as a session.
 */
export class Sealer {
  readonly #keys: { kid: string; key: Uint8Array }[];

  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new Error('at least one key');
    this.#keys = keys.map((k) => {
      const key = base64url.decode(k);
      if (key.length !== 32) throw new Error('session keys are 32 bytes');
      return { kid: createHash('sha256').update(key).digest('base64url').slice(0, 8), key };
    });
  }

  /** Key ids (hash prefixes, not keys), newest first: for the audit record of a start. */
  get kids(): string[] {
    return this.#keys.map((k) => k.kid);
  }

  seal(payload: JWTPayload, purpose: string, ttlSeconds: number, nowMs: number): Promise<string> {
    const { kid, key } = this.#keys[0]!;
    const now = Math.floor(nowMs / 1000);
    return new EncryptJWT(payload)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid })
      .setAudience(purpose)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .encrypt(key);
  }

  /** The payload, or undefined for anything tampered, expired, foreign or oversized. */
  async open(token: string, purpose: string, nowMs: number): Promise<JWTPayload | undefined> {
    if (token.length > MAX_SEALED_BYTES) return undefined;
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      return undefined;
    }
    const entry = this.#keys.find((k) => k.kid === kid);
    if (!entry) return undefined;
    try {
      const { payload } = await jwtDecrypt(token, entry.key, {
        audience: purpose,
        currentDate: new Date(nowMs),
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        requiredClaims: ['exp', 'iat'],
      });
      return payload;
    } catch {
      return undefined;
    }
  }
}
