import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest, headerValue } from '../helpers/envoy-client.js';
import { httpRequest } from '../helpers/http.js';
import { HTML, loginThroughCheck, setCookies, status } from '../helpers/login.js';
import { TestOidcProvider } from '../helpers/oidc-idp.js';
import { cookiePairs, sessionKey } from '../helpers/sessions.js';

const POLICY = {
  version: 1,
  routes: [
    { id: 'grafana', match: { hosts: ['grafana.example.com'] }, allow: { groups: { has: 'sre' } } },
    { id: 'wiki', match: { hosts: ['wiki.example.com'] }, allow: { groups: { has: 'sre' } } },
  ],
};
const GRAFANA = 'http://grafana.example.com';

describe('browser sessions: host binding, logout CSRF, bounded login state, own cookies never upstream', () => {
  let idp: TestOidcProvider;
  let t: TestApp;
  let client: ReturnType<typeof authClient>;

  before(async () => {
    idp = await TestOidcProvider.start({ redirectUris: [`${GRAFANA}/.verdict/callback`, 'http://wiki.example.com/.verdict/callback'], postLogoutRedirectUris: [`${GRAFANA}/`] });
    t = await startTestApp(
      { 'p.json': POLICY },
      {
        identity: {
          oidc: { issuer: idp.issuer, client_id: 'verdict', client_secret: 'verdict-test-secret', scopes: ['openid', 'email', 'groups'], public_scheme: 'http', allow_insecure_http: true },
          session: { keys: [sessionKey()] },
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

  it('a session cookie is an identity only on the host it was issued for', async () => {
    const { cookie } = await loginThroughCheck(client, 'alice');
    const home = await client.check(envoyCheckRequest({ host: 'grafana.example.com', path: '/', headers: { cookie } }));
    assert.equal(status(home), 200);
    // The same cookie replayed on another route's host (an upstream app that saw it, say).
    const elsewhere = await client.check(envoyCheckRequest({ host: 'wiki.example.com', path: '/', headers: { cookie } }));
    assert.equal(status(elsewhere), 401);
    const record = t.records().find((r) => r['verdict.decision_id'] === headerValue(elsewhere.denied_response?.headers, 'x-verdict-decision-id'));
    assert.ok((record?.['verdict.reasons'] as string[]).includes('invalid-session'), JSON.stringify(record));
  });

  it('a cross-site logout gets a confirmation page and keeps the session; a same-origin one ends it', async () => {
    const { cookie } = await loginThroughCheck(client, 'alice');
    const crossSite = [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'https://evil.example' }, {}, { 'sec-fetch-site': 'none', ':method': 'POST' }];
    for (const extra of crossSite) {
      const { ':method': method, ...headers } = extra as Record<string, string>;
      const out = await client.check(envoyCheckRequest({ method: method ?? 'GET', path: '/.verdict/logout', headers: { accept: HTML, cookie, ...headers } }));
      assert.equal(status(out), 200, JSON.stringify(extra));
      assert.match(out.denied_response!.body!, /<form method="post">/);
      assert.equal(headerValue(out.denied_response?.headers, 'content-security-policy'), "frame-ancestors 'none'", 'the confirmation page cannot be framed (clickjacking)');
      assert.equal(headerValue(out.denied_response?.headers, 'x-frame-options'), 'DENY');
      assert.equal(setCookies(out).length, 0, 'the session cookie is not cleared');
      const still = await client.check(envoyCheckRequest({ path: '/', headers: { cookie } }));
      assert.equal(status(still), 200, `session kept after ${JSON.stringify(extra)}`);
    }
    // The page's button: a POST from this origin.
    const posted = await client.check(envoyCheckRequest({ method: 'POST', path: '/.verdict/logout', headers: { accept: HTML, cookie, origin: GRAFANA } }));
    assert.equal(status(posted), 302);
    const replay = await client.check(envoyCheckRequest({ path: '/', headers: { cookie } }));
    assert.equal(status(replay), 401, 'the session is gone');
    const audited = t.records().filter((r) => (r['verdict.reasons'] as string[] | undefined)?.includes('logout-confirm'));
    assert.equal(audited.length, crossSite.length);
  });

  it('parallel navigations keep at most max_login_cookies state cookies, and a login still completes', async () => {
    const jar = new Map<string, string>();
    const starts = await Promise.all(Array.from({ length: 40 }, () => client.check(envoyCheckRequest({ path: '/', headers: { accept: HTML } }))));
    for (const r of starts) {
      assert.equal(status(r), 302);
      for (const [k, v] of cookiePairs(setCookies(r))) {
        if (v === '') jar.delete(k);
        else jar.set(k, v);
      }
    }
    const logins = [...jar.keys()].filter((k) => k.startsWith('__Host-verdict_login_'));
    assert.ok(logins.length >= 1 && logins.length <= 5, `${logins.length} login cookies: ${logins.join(', ')}`);
    // Cookies of another scheme (an older version's names) are cleared by the next login.
    const legacy = await client.check(envoyCheckRequest({ path: '/', headers: { accept: HTML, cookie: '__Host-verdict_login_abcdefabcdefabcd=x' } }));
    assert.ok(setCookies(legacy).some((c) => c.startsWith('__Host-verdict_login_abcdefabcdefabcd=;') && /Max-Age=0/.test(c)));
    // The slot scheme still lets one login through.
    const { cookie } = await loginThroughCheck(client, 'alice');
    assert.equal(status(await client.check(envoyCheckRequest({ path: '/', headers: { cookie } }))), 200);
  });

  it("Envoy http_service mode: Verdict's cookies are cut from the upstream request", async () => {
    const { cookie } = await loginThroughCheck(client, 'alice');
    const ask = (c: string) => httpRequest(`http://127.0.0.1:${t.app.httpPort}/ext-authz/`, { headers: { host: 'grafana.example.com', cookie: c } });
    const withApp = await ask(`${cookie}; app=1`);
    assert.equal(withApp.status, 200, withApp.body);
    assert.equal(withApp.headers.cookie, 'app=1');
    const only = await ask(cookie);
    assert.equal(only.status, 200);
    assert.equal(only.headers.cookie, undefined);
    assert.ok(String(only.headers['x-envoy-auth-headers-to-remove']).split(',').includes('cookie'));
  });
});

describe('browser sessions shared by subdomains (cookie_domain)', () => {
  let idp: TestOidcProvider;
  let t: TestApp;
  let client: ReturnType<typeof authClient>;

  before(async () => {
    idp = await TestOidcProvider.start({ redirectUris: [`${GRAFANA}/.verdict/callback`] });
    t = await startTestApp(
      { 'p.json': POLICY },
      {
        identity: {
          oidc: { issuer: idp.issuer, client_id: 'verdict', client_secret: 'verdict-test-secret', scopes: ['openid', 'email', 'groups'], public_scheme: 'http', allow_insecure_http: true },
          session: { keys: [sessionKey()], cookie_name: '__Secure-verdict_session', cookie_domain: 'example.com' },
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

  it('sets the cookie for the domain, accepts it on its subdomains, and warns in the start record', async () => {
    const start = await client.check(envoyCheckRequest({ path: '/', headers: { accept: HTML } }));
    const { IdpBrowser } = await import('../helpers/oidc-idp.js');
    const authorize = headerValue(start.denied_response?.headers, 'location')!;
    const callback = new URL(await new IdpBrowser().login(authorize, 'alice'));
    const loginCookie = [...cookiePairs(setCookies(start))].map(([k, v]) => `${k}=${v}`).join('; ');
    const done = await client.check(envoyCheckRequest({ path: callback.pathname + callback.search, headers: { accept: HTML, cookie: loginCookie } }));
    const session = setCookies(done).find((c) => c.startsWith('__Secure-verdict_session='))!;
    assert.match(session, /Domain=example\.com/i);
    const cookie = [...cookiePairs([session])].map(([k, v]) => `${k}=${v}`).join('; ');
    assert.equal(status(await client.check(envoyCheckRequest({ host: 'wiki.example.com', path: '/', headers: { cookie } }))), 200);
    const startRecord = t.records().find((r) => r['event.action'] === 'start')!;
    assert.ok((startRecord['verdict.warnings'] as string[]).some((w) => w.includes('cookie_domain')), JSON.stringify(startRecord));
  });
});
