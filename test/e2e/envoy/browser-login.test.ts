// A browser login through real Envoy (TLS, so `__Host-` cookies work as in production):
// Chromium is sent to the oidc-provider IdP, comes back through Envoy to Verdict's callback,
// reaches the app with the identity Verdict vouched for, logs out, and its old cookie,
// replayed, is denied.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { freePort } from '../../helpers/nginx.js';
import { TestOidcProvider } from '../../helpers/oidc-idp.js';
import { sessionKey } from '../../helpers/sessions.js';
import { tempDir } from '../../helpers/tmp.js';
import { hasTool, toolPath } from '../../helpers/tools.js';
import { EchoUpstream, type Received } from './echo-upstream.js';
import { envoySection, generatedBootstrap, makeCert, startEnvoy, type RunningEnvoy } from './harness.js';

describe('browser login through real Envoy in Chromium', () => {
  let ready = false;
  let idp: TestOidcProvider;
  let echo: EchoUpstream;
  let t: TestApp;
  let envoy: RunningEnvoy;
  let browser: Browser;
  let port = 0;
  const app = (path = '/') => `https://app.localhost:${port}${path}`;

  before(async () => {
    if (!hasTool('chromium') || !hasTool('envoy') || !hasTool('openssl')) return;
    const dir = tempDir('verdict-envoy-browser-');
    const cert = makeCert(dir.dir, ['app.localhost']);
    port = await freePort();
    echo = await EchoUpstream.start(['app']);
    idp = await TestOidcProvider.start({ redirectUris: [app('/.verdict/callback')], postLogoutRedirectUris: [app('/')] });
    t = await startTestApp(
      { 'routes.json': { version: 1, routes: [{ id: 'app', match: { hosts: ['app.localhost'] }, to: echo.url('app'), allow: { groups: { has: 'sre' } } }] } },
      {
        identity: {
          oidc: { issuer: idp.issuer, client_id: 'verdict', client_secret: 'verdict-test-secret', scopes: ['openid', 'email', 'groups'], public_port: port, allow_insecure_http: true },
          session: { keys: [sessionKey()] },
        },
        envoy: envoySection({ tlsListen: port, tls: cert }),
      },
    );
    // Envoy and Chromium start side by side; whichever started is stopped by after().
    const [e, b] = await Promise.allSettled([
      startEnvoy(dir.dir, generatedBootstrap(`${t.dir}/verdict.json`, { verdictAddress: `127.0.0.1:${t.app.grpcPort}` })),
      chromium.launch({
        executablePath: toolPath('chromium'),
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      }),
    ]);
    if (e.status === 'fulfilled') envoy = e.value;
    if (b.status === 'fulfilled') browser = b.value;
    if (e.status === 'rejected') throw e.reason;
    if (b.status === 'rejected') throw b.reason;
    ready = true;
  });
  after(async () => {
    await browser?.close();
    await envoy?.stop();
    await t?.app.stop();
    await echo?.close();
    await idp?.close();
  });

  async function signIn(page: Page, user: string): Promise<void> {
    await page.waitForURL((u) => u.href.startsWith(idp.issuer));
    await page.fill('input[name="login"]', user);
    await page.fill('input[name="password"]', 'any');
    await page.click('button[type="submit"]');
    await page.waitForURL((u) => !u.href.startsWith(idp.issuer) || u.pathname.includes('/interaction/'));
    if (page.url().startsWith(idp.issuer)) await page.click('button[type="submit"]');
  }

  it('redirect to the IdP, callback through Envoy, identity at the app, logout, old cookie replay denied', async (ctx) => {
    if (!ready) return ctx.skip('chromium or envoy missing');
    // Certificates are made by the test: the browser is told to accept them, nothing else changes.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();

    await page.goto(app('/dashboards?x=1'));
    assert.ok(page.url().startsWith(`${idp.issuer}/`), `sent to the IdP: ${page.url()}`);
    await signIn(page, 'alice');
    await page.waitForURL(app('/dashboards?x=1'));
    const got = JSON.parse((await page.textContent('body')) ?? '') as Received;
    assert.equal(got.path, '/dashboards');
    assert.equal(got.headers['x-verdict-user'], 'alice');
    assert.equal(got.headers['x-verdict-email'], 'alice@example.com');
    assert.equal(got.headers['x-verdict-groups'], 'sre');
    assert.doesNotMatch(got.headers.cookie ?? '', /verdict/, "Verdict's cookies never reach the app");
    const session = (await context.cookies(app())).find((c) => c.name === '__Host-verdict_session');
    assert.ok(session, 'a __Host- session cookie over TLS');
    assert.ok(session.secure && session.httpOnly && session.path === '/' && session.sameSite === 'Lax');
    const allowed = t.records().find((r) => r['verdict.decision_id'] === got.headers['x-verdict-decision-id']);
    assert.equal(allowed?.['verdict.auth_method'], 'session');

    // Logout (a same-origin, typed navigation), through the IdP's end-session page if it asks.
    await page.goto(app('/.verdict/logout'));
    if (page.url().startsWith(idp.issuer)) {
      const confirm = page.locator('button[type="submit"], input[type="submit"]');
      if (await confirm.count()) await confirm.first().click();
    }
    await page.waitForURL((u) => u.host === `app.localhost:${port}` || u.href.startsWith(idp.issuer));
    assert.equal((await context.cookies(app())).find((c) => c.name === '__Host-verdict_session'), undefined, 'the session cookie is cleared');

    // The old cookie, replayed from another browser: not a session any more.
    const seenBefore = echo.received.length;
    const replay = await browser.newContext({ ignoreHTTPSErrors: true });
    await replay.addCookies([session]);
    const rp = await replay.newPage();
    const res = await rp.goto(app('/dashboards'));
    assert.ok(rp.url().startsWith(idp.issuer), `the replayed cookie is sent to log in again: ${rp.url()} (${res?.status()})`);
    assert.equal(echo.received.length, seenBefore, 'the replayed cookie reached nothing');
    const replayed = t.records().filter((r) => r['verdict.decision'] === 'deny' && r['url.path'] === '/dashboards').at(-1);
    assert.equal(replayed?.['http.response.status_code'], 302);
    await replay.close();
    await context.close();
  });
});
