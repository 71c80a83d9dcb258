import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest, headerValue, type CheckResponseJs } from '../helpers/envoy-client.js';
import { IdpBrowser, TestOidcProvider } from '../helpers/oidc-idp.js';
import { cookiePairs, sessionKey } from '../helpers/sessions.js';

const HTML = 'text/html,application/xhtml+xml,*/*;q=0.8';
const setCookies = (r: CheckResponseJs) => (r.denied_response?.headers ?? []).filter((h) => h.header.key === 'set-cookie').map((h) => h.header.value);
const status = (r: CheckResponseJs) => (r.status?.code ?? 0) === 0 ? 200 : Number(r.denied_response?.status?.code);

describe('browser login through Envoy gRPC Check calls, against a real OIDC provider', () => {
  let idp: TestOidcProvider;
  let t: TestApp;
  let client: ReturnType<typeof authClient>;
  const keys = [sessionKey(), sessionKey()];

  before(async () => {
    idp = await TestOidcProvider.start({
      redirectUris: ['http://grafana.example.com/.verdict/callback', 'http://status.example.com/.verdict/callback'],
      postLogoutRedirectUris: ['http://grafana.example.com/'],
    });
    t = await startTestApp(
      { 'demo.json': DEMO_POLICY },
      {
        identity: {
          oidc: { issuer: idp.issuer, client_id: 'verdict', client_secret: 'verdict-test-secret', scopes: ['openid', 'email', 'groups'], public_scheme: 'http', allow_insecure_http: true, claims_refresh_interval: '2s' },
          session: { keys, idle_timeout: '1h' },
        },
      },
    );
    client = authClient(t.app.grpcPort);
  });
  after(async () => {
    client.close();
    await t.app.stop();
    await idp.close();
  });

  /** Logs `user` in and returns the session cookie header. */
  async function login(user: string, path = '/d/abc?x=1'): Promise<string> {
    const start = await client.check(envoyCheckRequest({ path, headers: { accept: HTML } }));
    assert.equal(status(start), 302, 'a browser is sent to log in');
    const authorize = headerValue(start.denied_response?.headers, 'location')!;
    assert.ok(authorize.startsWith(`${idp.issuer}/auth?`), authorize);
    const params = new URL(authorize).searchParams;
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.ok(params.get('state') && params.get('nonce') && params.get('code_challenge'));
    assert.equal(params.get('redirect_uri'), 'http://grafana.example.com/.verdict/callback');
    const loginCookie = setCookies(start).find((c) => c.startsWith('__Host-verdict_login_'))!;
    assert.match(loginCookie, /HttpOnly/i);
    assert.match(loginCookie, /Secure/i);
    assert.match(loginCookie, /SameSite=Lax/i);

    const callbackUrl = await new IdpBrowser().login(authorize, user);
    const cb = new URL(callbackUrl);
    assert.equal(cb.pathname, '/.verdict/callback');
    const cookieHeader = [...cookiePairs([loginCookie])].map(([k, v]) => `${k}=${v}`).join('; ');
    const done = await client.check(envoyCheckRequest({ path: cb.pathname + cb.search, headers: { accept: HTML, cookie: cookieHeader } }));
    assert.equal(status(done), 302, JSON.stringify(done.denied_response?.body));
    assert.equal(headerValue(done.denied_response?.headers, 'location'), path);
    const session = setCookies(done).find((c) => c.startsWith('__Host-verdict_session='))!;
    assert.ok(session, 'session cookie set');
    assert.match(session, /HttpOnly/i);
    assert.match(session, /Path=\//);
    assert.doesNotMatch(session, /Domain=/i);
    assert.ok(setCookies(done).some((c) => c.startsWith('__Host-verdict_login_') && /Max-Age=0/.test(c)), 'the login cookie is single use');
    return [...cookiePairs([session])].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  it('logs in, then allows with identity headers and strips Verdict cookies upstream', async () => {
    const cookie = await login('alice');
    const res = await client.check(envoyCheckRequest({ path: '/d/abc', headers: { accept: HTML, cookie: `${cookie}; app=1` } }));
    assert.equal(status(res), 200);
    const h = res.ok_response!.headers!;
    assert.equal(headerValue(h, 'x-verdict-user'), 'alice');
    assert.equal(headerValue(h, 'x-verdict-email'), 'alice@example.com');
    assert.equal(headerValue(h, 'x-verdict-groups'), 'sre');
    assert.equal(headerValue(h, 'cookie'), 'app=1', 'only the app cookies go upstream');
    // The completed callback is counted as a login, not as a deny.
    const metrics = await t.app.metrics.registry.metrics();
    assert.match(metrics, /verdict_decisions_total\{route="",decision="login",status="302",transport="grpc"\} [1-9]/);
  });

  it('denies a user outside the policy with 403 and the decision id', async () => {
    const cookie = await login('bob');
    const res = await client.check(envoyCheckRequest({ path: '/', headers: { accept: HTML, cookie } }));
    assert.equal(status(res), 403);
    assert.match(res.denied_response!.body!, /Decision id/);
  });

  it('API clients get 401, not a login redirect', async () => {
    const res = await client.check(envoyCheckRequest({ path: '/api/x', headers: { accept: 'application/json' } }));
    assert.equal(status(res), 401);
    const xhr = await client.check(envoyCheckRequest({ path: '/', headers: { accept: HTML, 'x-requested-with': 'XMLHttpRequest' } }));
    assert.equal(status(xhr), 401);
  });

  it('logout revokes the session: replaying the old cookie is denied', async () => {
    const cookie = await login('alice');
    const out = await client.check(envoyCheckRequest({ path: '/.verdict/logout', headers: { accept: HTML, cookie, 'sec-fetch-site': 'same-origin' } }));
    assert.equal(status(out), 302);
    assert.ok(setCookies(out).some((c) => c.startsWith('__Host-verdict_session=;') && /Max-Age=0/.test(c)));
    const location = headerValue(out.denied_response?.headers, 'location')!;
    assert.ok(location.startsWith(`${idp.issuer}/session/end`), `RP-initiated logout at the IdP: ${location}`);
    const replay = await client.check(envoyCheckRequest({ path: '/', headers: { accept: 'application/json', cookie } }));
    assert.equal(status(replay), 401);
    assert.deepEqual(JSON.parse(replay.denied_response!.body!).reasons, ['invalid-session', 'user-unauthenticated']);
  });

  it('refuses tampered, foreign-key and oversized cookies', async () => {
    const cookie = await login('alice');
    const value = cookie.split('=')[1]!;
    const tampered = `${value.slice(0, -4)}${value.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    const foreign = value.replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: 'someone' })).toString('base64url'));
    for (const bad of [tampered, foreign, 'x'.repeat(5000), 'not-a-jwe']) {
      const res = await client.check(envoyCheckRequest({ path: '/', headers: { accept: 'application/json', cookie: `__Host-verdict_session=${bad}` } }));
      assert.equal(status(res), 401);
      assert.deepEqual(JSON.parse(res.denied_response!.body!).reasons, ['invalid-session', 'user-unauthenticated']);
    }
  });

  it('a callback without its login cookie, or replayed, fails; open redirects land on /', async () => {
    const res = await client.check(envoyCheckRequest({ path: '/.verdict/callback?code=abc&state=0123456789abcdefXYZ', headers: { accept: HTML } }));
    assert.equal(status(res), 400);
    assert.deepEqual(JSON.parse(JSON.stringify(res.dynamic_metadata?.fields?.reasons?.listValue?.values.map((v) => v.stringValue))), ['login-failed']);
    for (const evil of ['//evil.com', '/\\evil.com', 'https://evil.com']) {
      const out = await client.check(envoyCheckRequest({ path: `/.verdict/logout?return_to=${encodeURIComponent(evil)}`, host: 'status.example.com', headers: { accept: HTML, 'sec-fetch-site': 'same-origin' } }));
      assert.equal(status(out), 302);
      const loc = headerValue(out.denied_response?.headers, 'location')!;
      assert.ok(!loc.includes('evil.com'), `${evil} → ${loc}`);
    }
    // A return path with non-ASCII characters goes out percent-encoded: a valid Location value.
    const euro = await client.check(envoyCheckRequest({ path: `/.verdict/logout?return_to=${encodeURIComponent('/caf\u00e9/\u20ac?q=\u00fc')}`, host: 'elsewhere.example.com', headers: { accept: HTML, 'sec-fetch-site': 'same-origin' } }));
    assert.equal(status(euro), 302);
    assert.equal(headerValue(euro.denied_response?.headers, 'location'), '/caf%C3%A9/%E2%82%AC?q=%C3%BC');
  });

  it('a group removed at the IdP is denied after the refresh interval', async () => {
    const cookie = await login('alice');
    const before = await client.check(envoyCheckRequest({ path: '/', headers: { accept: 'application/json', cookie } }));
    assert.equal(status(before), 200);
    idp.users.get('alice')!.groups = ['dev'];
    await new Promise((r) => setTimeout(r, 2200));
    const after = await client.check(envoyCheckRequest({ path: '/', headers: { accept: 'application/json', cookie } }));
    assert.equal(status(after), 403);
    assert.deepEqual(JSON.parse(after.denied_response!.body!).reasons.sort(), ['email-unauthorized', 'groups-unauthorized']);
    idp.users.get('alice')!.groups = ['sre'];
  });

  it('open-redirect payloads in the login return path land on /', async () => {
    for (const evil of ['//evil.com/x', '/%2F%2Fevil.com', '/\\evil.com', 'https://evil.com/', 'javascript:alert(1)', '/x%0d%0aSet-Cookie:%20a=b', 'https://grafana.example.com@evil.com/']) {
      const start = await client.check(envoyCheckRequest({ path: `/.verdict/login?rd=${evil}`, headers: { accept: HTML } }));
      assert.equal(status(start), 302, evil);
      const loginCookie = setCookies(start).find((c) => c.startsWith('__Host-verdict_login_'))!;
      const cb = new URL(await new IdpBrowser().login(headerValue(start.denied_response?.headers, 'location')!, 'alice'));
      const done = await client.check(envoyCheckRequest({ path: cb.pathname + cb.search, headers: { accept: HTML, cookie: loginCookie.split(';')[0]! } }));
      assert.equal(status(done), 302);
      assert.equal(headerValue(done.denied_response?.headers, 'location'), '/', `${evil} lands on /`);
    }
  });

  it('login_path starts a login only for a page navigation: a favicon sent there gets 401 and no login cookie', async () => {
    const favicon = await client.check(envoyCheckRequest({ path: '/.verdict/login?rd=/favicon.ico', headers: { accept: 'image/avif,image/webp,*/*', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' } }));
    assert.equal(status(favicon), 401);
    assert.deepEqual(setCookies(favicon), [], 'no login cookie: it could take the slot of a login in progress');
    const page = await client.check(envoyCheckRequest({ path: '/.verdict/login?rd=/d', headers: { accept: HTML, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' } }));
    assert.equal(status(page), 302);
    assert.ok(setCookies(page).some((c) => c.startsWith('__Host-verdict_login_')));
  });

  it('keeps logins of several tabs apart in slot-named state cookies, and clears other login cookies', async () => {
    // Two tabs whose logins landed in different slots (the slot follows the random state).
    const bySlot = new Map<string, { path: string; start: CheckResponseJs }>();
    for (let i = 0; bySlot.size < 2 && i < 50; i++) {
      const start = await client.check(envoyCheckRequest({ path: `/tab${i}`, headers: { accept: HTML } }));
      const name = setCookies(start).find((c) => c.startsWith('__Host-verdict_login_'))!.split('=')[0]!;
      assert.match(name, /^__Host-verdict_login_[0-4]$/);
      if (!bySlot.has(name)) bySlot.set(name, { path: `/tab${i}`, start });
    }
    assert.equal(bySlot.size, 2);
    const jar = [...bySlot.values()].flatMap(({ start }) => [...cookiePairs(setCookies(start))].map(([k, v]) => `${k}=${v}`)).join('; ');
    // Both complete, each back to its own tab's path.
    for (const { path, start } of bySlot.values()) {
      const callback = new URL(await new IdpBrowser().login(headerValue(start.denied_response?.headers, 'location')!, 'alice'));
      const done = await client.check(envoyCheckRequest({ path: callback.pathname + callback.search, headers: { accept: HTML, cookie: jar } }));
      assert.equal(status(done), 302);
      assert.equal(headerValue(done.denied_response?.headers, 'location'), path);
    }
    const many = Array.from({ length: 7 }, (_, i) => `__Host-verdict_login_${String(i).padStart(16, '0')}=x`).join('; ');
    const next = await client.check(envoyCheckRequest({ path: '/', headers: { accept: HTML, cookie: many } }));
    const cleared = setCookies(next).filter((c) => /Max-Age=0/.test(c));
    assert.equal(cleared.length, 7, 'login cookies outside the slots are all cleared');
  });

  it('a failed claims refresh ends the session', async () => {
    const cookie = await login('alice');
    assert.equal(status(await client.check(envoyCheckRequest({ path: '/', headers: { accept: 'application/json', cookie } }))), 200);
    idp.users.delete('alice');
    try {
      await new Promise((r) => setTimeout(r, 2200));
      const res = await client.check(envoyCheckRequest({ path: '/', headers: { accept: 'application/json', cookie } }));
      assert.equal(status(res), 401);
      assert.deepEqual(JSON.parse(res.denied_response!.body!).reasons, ['invalid-session', 'user-unauthenticated']);
    } finally {
      idp.users.set('alice', { email: 'alice@example.com', groups: ['sre'] });
    }
  });

  it('audits logins, logouts and session decisions with auth_method session', async () => {
    await t.app.stop();
    const records = t.records();
    assert.ok(records.some((r) => (r['verdict.reasons'] as string[] | undefined)?.includes('login-callback') && r['user.id'] === 'alice'));
    assert.ok(records.some((r) => (r['verdict.reasons'] as string[] | undefined)?.includes('logout')));
    assert.ok(records.some((r) => r['verdict.auth_method'] === 'session' && r['verdict.decision'] === 'allow'));
    assert.ok(records.filter((r) => r['verdict.auth_method'] === 'session').every((r) => /^[0-9a-f]{32}$/.test(String(r['verdict.session_hash']))), 'session ids only as hashes');
    // Checkpoint signatures (JWS, with the key serve generated) are the trail's own, not tokens.
    const text = JSON.stringify(records.map(({ 'verdict.checkpoint': _signed, ...r }) => r));
    assert.doesNotMatch(text, /__Host-verdict_session=/);
    assert.doesNotMatch(text, /verdict-test-secret/);
    assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}/, 'no token or sealed cookie in the trail');
  });
});
