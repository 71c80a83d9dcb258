import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errors as joseErrors, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { KeySetUnavailable, RemoteKeySet, type RemoteKeySetOptions } from '../../../src/identity/key-set.js';
import { TestIssuer } from '../../helpers/idp.js';

/** A key set on a hand-moved clock: tests step time instead of sleeping. */
function keySet(idp: TestIssuer, clock: { t: number }, o: Partial<RemoteKeySetOptions> = {}): RemoteKeySet {
  return new RemoteKeySet({ uri: idp.jwksUri, timeoutMs: 2000, refreshMs: 600_000, cooldownMs: 30_000, unknownKidIntervalMs: 1000, maxStaleMs: 3_600_000, now: () => clock.t, ...o });
}

async function outcome(ks: RemoteKeySet, token: string): Promise<'ok' | 'unavailable' | 'no-key' | string> {
  try {
    await jwtVerify(token, ks.getKey, { audience: 'verdict' });
    return 'ok';
  } catch (e) {
    if (e instanceof KeySetUnavailable) return 'unavailable';
    if (e instanceof joseErrors.JWKSNoMatchingKey) return 'no-key';
    return String(e);
  }
}

async function randomKidToken(idp: TestIssuer, kid: string): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(idp.issuer).setAudience('verdict').setExpirationTime('5m').sign(privateKey);
}

describe('JWKS outages: held keys keep verifying, failing fetches are bounded, an unfetchable key is an outage', () => {
  let idp: TestIssuer;
  before(async () => {
    idp = await TestIssuer.start(['ES256']);
  });
  after(() => idp.close());

  it('keeps verifying with held keys through an outage, up to max stale, then answers unavailable; recovers by itself', async () => {
    idp.status = 200;
    const clock = { t: 1_000_000 };
    const ks = keySet(idp, clock, { refreshMs: 60_000, maxStaleMs: 3_600_000 });
    const token = await idp.token({}, { expiresIn: '2h' });
    assert.equal(await outcome(ks, token), 'ok');
    idp.status = 503;
    // 59 minutes into the outage (refreshes failing in the background): still verifying.
    for (const minutes of [2, 11, 30, 59]) {
      clock.t = 1_000_000 + minutes * 60_000;
      assert.equal(await outcome(ks, token), 'ok', `at ${minutes} min of outage`);
    }
    clock.t = 1_000_000 + 61 * 60_000;
    assert.equal(await outcome(ks, token), 'unavailable', 'past jwks_max_stale the held keys are no longer trusted');
    idp.status = 200;
    clock.t += 31_000; // past the longest retry backoff (jwks_cooldown)
    assert.equal(await outcome(ks, token), 'ok', 'recovers without a restart once the endpoint answers');
  });

  it('50 checks against a failing JWKS cost one fetch, and later ones are retried with backoff up to the cooldown', async () => {
    idp.status = 500;
    const clock = { t: 5_000_000 };
    const ks = keySet(idp, clock);
    const before = idp.jwksFetches;
    const token = await idp.token({});
    const results = await Promise.all(Array.from({ length: 50 }, () => outcome(ks, token)));
    assert.deepEqual(new Set(results), new Set(['unavailable']), 'a token whose key cannot be fetched is an outage, not a bad token');
    assert.equal(idp.jwksFetches - before, 1, 'one fetch for 50 concurrent checks');
    // Backoff 1 s, 2 s, 4 s ... capped at 30 s: over 5 simulated minutes of checks every 100 ms, few fetches.
    for (let i = 0; i < 3000; i++) {
      clock.t += 100;
      assert.equal(await outcome(ks, token), 'unavailable');
    }
    const fetches = idp.jwksFetches - before;
    assert.ok(fetches <= 1 + 5 + Math.ceil(300 / 30), `bounded retries over 5 min, saw ${fetches}`);
    assert.ok(fetches >= 5, `but retried, saw ${fetches}`);
    idp.status = 200;
  });

  it('a key rotation two seconds after a fetch is picked up at once, within the cooldown', async () => {
    idp.status = 200;
    const clock = { t: 9_000_000 };
    const ks = keySet(idp, clock, { cooldownMs: 30_000, unknownKidIntervalMs: 1000 });
    const oldToken = await idp.token({}, { kid: 'es256-1' });
    assert.equal(await outcome(ks, oldToken), 'ok');
    const fetchesBefore = idp.jwksFetches;
    // The IdP rotates: a new key, and new tokens signed with it.
    await idp.addKey('es256-rotated', 'ES256');
    const newToken = await idp.token({}, { kid: 'es256-rotated' });
    clock.t += 2000;
    assert.equal(await outcome(ks, newToken), 'ok', 'the new kid is fetched although jwks_cooldown (30 s) has not passed');
    assert.equal(idp.jwksFetches - fetchesBefore, 1);
    assert.equal(await outcome(ks, oldToken), 'ok', 'the old key still verifies');
  });

  it('a flood of random kids costs at most one fetch per minimum interval, and known keys keep verifying', async () => {
    idp.status = 200;
    const clock = { t: 20_000_000 };
    const ks = keySet(idp, clock, { unknownKidIntervalMs: 1000 });
    const good = await idp.token({}, { kid: 'es256-1' });
    assert.equal(await outcome(ks, good), 'ok');
    const before = idp.jwksFetches;
    const fakes = await Promise.all(Array.from({ length: 20 }, (_, i) => randomKidToken(idp, `made-up-${i}`)));
    // 10 simulated seconds, 40 random-kid tokens per second, 20 at a time concurrently.
    for (let step = 0; step < 20; step++) {
      clock.t += 500;
      const results = await Promise.all(fakes.map((t) => outcome(ks, t)));
      assert.deepEqual(new Set(results), new Set(['no-key']), 'an unknown kid at a healthy JWKS is a bad token');
      assert.equal(await outcome(ks, good), 'ok');
    }
    const fetches = idp.jwksFetches - before;
    assert.ok(fetches <= 10, `at most one fetch per second over 10 s, saw ${fetches}`);
  });
});

describe('JWKS document size', () => {
  it('an endpoint that answers without end is cut off at the size bound, not read into memory first', async () => {
    const { createServer } = await import('node:http');
    const chunk = Buffer.alloc(1024 * 1024, 0x20); // JSON whitespace: the document never ends
    let sent = 0;
    let closedEarly = false;
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
      const pump = () => {
        while (!res.destroyed && sent < 256 * chunk.length) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end(']}');
      };
      res.on('close', () => (closedEarly = !res.writableFinished));
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as import('node:net').AddressInfo;
      const details: string[] = [];
      const ks = new RemoteKeySet({ uri: `http://127.0.0.1:${port}/jwks`, timeoutMs: 20_000, refreshMs: 600_000, cooldownMs: 30_000, unknownKidIntervalMs: 1000, maxStaleMs: 3_600_000, maxBytes: 1_000_000, onFetch: (o, d) => details.push(`${o}: ${d}`) });
      const { privateKey } = await generateKeyPair('ES256');
      const token = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer('https://idp.test').setAudience('verdict').setExpirationTime('5m').sign(privateKey);
      assert.equal(await outcome(ks, token), 'unavailable');
      assert.deepEqual(details, ['error: Error: JWKS document larger than 1000000 bytes']);
      for (let i = 0; i < 200 && !closedEarly; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(closedEarly, 'Verdict hung up before the end of the document');
      assert.ok(sent < 64 * chunk.length, `the endpoint got to send ${sent >> 20} MiB`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
