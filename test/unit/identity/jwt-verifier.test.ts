import assert from 'node:assert/strict';
import { createHmac, createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type JWTVerifyGetKey } from 'jose';
import { JwtVerifier } from '../../../src/identity/jwt-verifier.js';
import { RemoteKeySet } from '../../../src/identity/key-set.js';
import type { JwtIssuer } from '../../../src/identity/jwt-issuer.js';
import { TestIssuer } from '../../helpers/idp.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('JWT verification refuses every classic attack', () => {
  let idp: TestIssuer;
  let verifier: JwtVerifier;
  let keyLookups = 0;
  const now = () => Date.now();

  before(async () => {
    idp = await TestIssuer.start(['RS256', 'ES256']);
    const issuer: JwtIssuer = {
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audiences: ['verdict'],
      algorithms: ['RS256', 'ES256'],
      groupsClaim: 'groups',
      clockSkewSeconds: 30,
      jwksCooldownMs: 30_000,
      jwksTimeoutMs: 2000,
      jwksRefreshMs: 600_000,
      jwksMinIntervalMs: 1000,
      jwksMaxStaleMs: 3_600_000,
    };
    verifier = new JwtVerifier([issuer], {
      maxTokenBytes: 4096,
      cacheSize: 100,
      cacheMaxTtlMs: 60_000,
      keySetFor: (i) => {
        const remote = new RemoteKeySet({ uri: i.jwksUri, timeoutMs: i.jwksTimeoutMs, cooldownMs: i.jwksCooldownMs, refreshMs: i.jwksRefreshMs, unknownKidIntervalMs: i.jwksMinIntervalMs, maxStaleMs: i.jwksMaxStaleMs });
        const counted: JWTVerifyGetKey = (h, t) => {
          keyLookups++;
          return remote.getKey(h, t);
        };
        return counted;
      },
    });
  });
  after(() => idp.close());

  const expectInvalid = async (token: string, why: RegExp) => {
    const r = await verifier.verify(token, now());
    assert.equal(r.kind, 'invalid', `expected refusal (${why})`);
    assert.match((r as { detail: string }).detail, why);
  };

  it('accepts valid RS256 and ES256 tokens and maps claims', async () => {
    for (const kid of ['rs256-1', 'es256-1']) {
      const r = await verifier.verify(await idp.token({ sub: 'alice', email: 'alice@example.com', groups: ['sre'] }, { kid }), now());
      assert.equal(r.kind, 'principal', kid);
      const p = (r as { principal: { subject: string; email: string; groups: readonly string[]; method: string } }).principal;
      assert.equal(p.subject, 'alice');
      assert.equal(p.email, 'alice@example.com');
      assert.deepEqual(p.groups, ['sre']);
      assert.equal(p.method, 'jwt');
    }
  });

  it('verifies a token once, then serves it from the cache until it expires', async () => {
    const token = await idp.token({ sub: 'cached' }, { expiresIn: '2m' });
    const before = keyLookups;
    for (let i = 0; i < 5; i++) assert.equal((await verifier.verify(token, now())).kind, 'principal');
    assert.equal(keyLookups - before, 1);
    // A cache hit is answered at once, without a promise (the decision then needs no microtask hop).
    const hit = verifier.verify(token, now());
    assert.ok(!(hit instanceof Promise), 'a cache hit is answered synchronously');
    assert.equal(hit.kind, 'principal');
    const later = await verifier.verify(token, now() + 10 * 60_000);
    assert.equal(later.kind, 'invalid', 'an expired cached token is not served');
  });

  it('alg none', async () => {
    const t = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: idp.issuer, aud: 'verdict', sub: 'x', exp: 9999999999 })}.`;
    await expectInvalid(t, /algorithm "none" is not allowed/);
  });

  it('HS256 signed with the RSA public key as the secret', async () => {
    const jwk = idp.keys.get('rs256-1')!.jwk;
    const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
    const head = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'rs256-1' })}.${b64({ iss: idp.issuer, aud: 'verdict', sub: 'x', exp: 9999999999 })}`;
    const sig = createHmac('sha256', pem).update(head).digest('base64url');
    await expectInvalid(`${head}.${sig}`, /algorithm "HS256" is not allowed/);
  });

  it('an algorithm the issuer does not allow', async () => {
    await idp.addKey('ps-1', 'PS256');
    await expectInvalid(await idp.token({}, { kid: 'ps-1' }), /algorithm "PS256" is not allowed/);
  });

  it('wrong or unknown issuer, before any network I/O', async () => {
    const fetches = idp.jwksFetches;
    await expectInvalid(await idp.token({ iss: 'https://evil.example.com' }), /issuer is not configured/);
    assert.equal(idp.jwksFetches, fetches);
  });

  it('wrong audience', async () => {
    await expectInvalid(await idp.token({ aud: 'another-app' }), /ERR_JWT_CLAIM_VALIDATION_FAILED.*aud/);
  });

  it('expired, beyond the clock skew', async () => {
    const t = await idp.token({ exp: Math.floor(Date.now() / 1000) - 120 }, { expiresIn: Math.floor(Date.now() / 1000) - 120 });
    await expectInvalid(t, /ERR_JWT_EXPIRED/);
  });

  it('expired within the clock skew is still accepted', async () => {
    const exp = Math.floor(Date.now() / 1000) - 10;
    const r = await verifier.verify(await idp.token({}, { expiresIn: exp }), now());
    assert.equal(r.kind, 'principal');
  });

  it('missing exp', async () => {
    const key = idp.keys.get('rs256-1')!;
    const t = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS256', kid: 'rs256-1' }).setIssuer(idp.issuer).setAudience('verdict').sign(key.privateKey);
    await expectInvalid(t, /"exp" claim/);
  });

  it('not yet valid (nbf in the future)', async () => {
    await expectInvalid(await idp.token({ nbf: Math.floor(Date.now() / 1000) + 3600 }), /nbf/);
  });

  it('missing sub', async () => {
    const key = idp.keys.get('rs256-1')!;
    const t = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'rs256-1' }).setIssuer(idp.issuer).setAudience('verdict').setExpirationTime('5m').sign(key.privateKey);
    await expectInvalid(t, /no sub/);
  });

  it('a forged signature, and a cache that is keyed by the whole token', async () => {
    const good = await idp.token({ sub: 'alice' });
    assert.equal((await verifier.verify(good, now())).kind, 'principal');
    const [h, p] = good.split('.');
    await expectInvalid(`${h}.${p}.${Buffer.from('x'.repeat(256)).toString('base64url')}`, /signature/);
  });

  it('an unknown kid does not turn into a JWKS fetch per request', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const fetches = idp.jwksFetches;
    for (let i = 0; i < 20; i++) {
      const t = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS256', kid: `unknown-${i}` }).setIssuer(idp.issuer).setAudience('verdict').setExpirationTime('5m').sign(privateKey);
      await expectInvalid(t, /ERR_JWKS_NO_MATCHING_KEY/);
    }
    assert.ok(idp.jwksFetches - fetches <= 1, `at most one refetch within the cooldown, saw ${idp.jwksFetches - fetches}`);
  });

  it('a header that brings its own key (jwk), or points at one (jku, x5u, x5c)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = await exportJWK(publicKey);
    const sign = (header: Record<string, unknown>) =>
      new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS256', ...header }).setIssuer(idp.issuer).setAudience('verdict').setExpirationTime('5m').sign(privateKey);
    await expectInvalid(await sign({ jwk }), /carries "jwk"/);
    await expectInvalid(await sign({ jku: 'https://evil.example.com/jwks', kid: 'rs256-1' }), /carries "jku"/);
    await expectInvalid(await sign({ x5u: 'https://evil.example.com/cert', kid: 'rs256-1' }), /carries "x5u"/);
  });

  it('a critical header extension it does not understand', async () => {
    const key = idp.keys.get('rs256-1')!;
    // Validly signed: the only thing wrong is the `crit` parameter Verdict does not know.
    const t = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'RS256', kid: 'rs256-1', crit: ['exp-ext'], 'exp-ext': true } as never)
      .setIssuer(idp.issuer)
      .setAudience('verdict')
      .setExpirationTime('5m')
      .sign(key.privateKey, { crit: { 'exp-ext': true } });
    await expectInvalid(t, /ERR_JOSE_NOT_SUPPORTED: Extension Header Parameter "exp-ext" is not recognized/);
  });

  it('an oversized token, before parsing or fetching', async () => {
    const fetches = idp.jwksFetches;
    const t = await idp.token({ pad: 'x'.repeat(5000) });
    await expectInvalid(t, /longer than 4096 bytes/);
    assert.equal(idp.jwksFetches, fetches);
  });

  it('garbage, JWE-shaped and non-JSON tokens', async () => {
    await expectInvalid('not-a-token', /compact JWS/);
    await expectInvalid('a.b.c.d.e', /compact JWS/);
    await expectInvalid(`${Buffer.from('{no').toString('base64url')}.${b64({})}.sig`, /not decodable/);
  });

  it('an unverified email does not count', async () => {
    const r = await verifier.verify(await idp.token({ sub: 'u', email: 'x@example.com', email_verified: false }), now());
    assert.equal(r.kind, 'principal');
    assert.equal((r as { principal: { email: unknown } }).principal.email, undefined);
  });

  it('an email counts only with email_verified boolean true, unless the issuer opts in', async () => {
    const emailOf = async (v: JwtVerifier, claims: Record<string, unknown>) => {
      const r = await v.verify(await idp.token({ sub: 'u', email: 'X@Example.com', ...claims }), now());
      assert.equal(r.kind, 'principal');
      return (r as { principal: { email: unknown } }).principal.email;
    };
    assert.equal(await emailOf(verifier, { email_verified: true }), 'x@example.com', 'held lower-cased');
    for (const v of ['true', 1, null, 'yes']) assert.equal(await emailOf(verifier, { email_verified: v }), undefined, JSON.stringify(v));
    assert.equal(await emailOf(verifier, { email_verified: undefined }), undefined, 'missing claim');
    assert.equal(await emailOf(verifier, { email_verified: true, email: 'attacker@evil.com@example.com' }), undefined, 'two @ is no email');
    const trusting = new JwtVerifier(
      [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audiences: ['verdict'], algorithms: ['RS256', 'ES256'], groupsClaim: 'groups', assumeEmailVerified: true, clockSkewSeconds: 30, jwksCooldownMs: 30_000, jwksTimeoutMs: 2000, jwksRefreshMs: 600_000, jwksMinIntervalMs: 1000, jwksMaxStaleMs: 3_600_000 }],
      { maxTokenBytes: 4096, cacheSize: 10, cacheMaxTtlMs: 60_000 },
    );
    assert.equal(await emailOf(trusting, { email_verified: undefined }), 'x@example.com', 'assume_email_verified: a missing claim is fine');
    assert.equal(await emailOf(trusting, { email_verified: false }), undefined, 'an explicit false still drops the email');
  });
});
