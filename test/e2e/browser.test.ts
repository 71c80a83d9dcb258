import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { freePort, startNginx } from '../helpers/nginx.js';
import { TestOidcProvider } from '../helpers/oidc-idp.js';
import { sessionKey } from '../helpers/sessions.js';
import { tempDir } from '../helpers/tmp.js';
import { hasTool, toolPath } from '../helpers/tools.js';
import { nginxAuthRequestConfig } from './nginx-auth-request.test.js';

const ADMIN = 'browser-test-admin-token-123456';
const POLICY = {
  version: 1,
  routes: [
    { id: 'app', match: { hosts: ['app.localhost'] }, allow: { groups: { has: 'sre' } } },
    { id: 'forbidden', match: { hosts: ['forbidden.localhost'] }, allow: { groups: { has: 'admins' } } },
  ],
};

describe('a real browser logs in through nginx and Verdict against a real IdP', () => {
  let ready = false;
  let idp: TestOidcProvider;
  let t: TestApp;
  let upstream: Server;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  let browser: Browser;
  let port = 0;
  const app = (host: string, path = '/') => `http://${host}.localhost:${port}${path}`;

  before(async () => {
    if (!hasTool('chromium') || !hasTool('nginx')) return;
    port = await freePort();
    idp = await TestOidcProvider.start({
      redirectUris: [app('app', '/.verdict/callback'), app('forbidden', '/.verdict/callback')],
      postLogoutRedirectUris: [app('app', '/'), app('forbidden', '/')],
    });
    t = await startTestApp(
      { 'p.json': POLICY },
      {
        http: { listen: '127.0.0.1:0', trusted_proxies: ['127.0.0.1/32'] },
        identity: {
          oidc: { issuer: idp.issuer, client_id: 'verdict', client_secret: 'verdict-test-secret', scopes: ['openid', 'email', 'groups'], public_scheme: 'http', public_port: port, allow_insecure_http: true, claims_refresh_interval: '2s' },
          session: { keys: [sessionKey()] },
        },
        admin: { tokens: [{ name: 'browser-test', token: ADMIN }] },
      },
    );
    upstream = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><h1 id="hello">Hello ${String(req.headers['x-verdict-user'] ?? 'nobody')}</h1><p id="groups">${String(req.headers['x-verdict-groups'] ?? '')}</p><p id="cookie">${String(req.headers.cookie ?? '')}</p>`);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    nginx = await startNginx(tempDir('verdict-nginx-').dir, port, nginxAuthRequestConfig(port, t.app.httpPort, (upstream.address() as AddressInfo).port, true));
    browser = await chromium.launch({
      executablePath: toolPath('chromium'),
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    ready = true;
  });
  after(async () => {
    await browser?.close();
    await nginx?.stop();
    upstream?.close();
    await t?.app.stop();
    await idp?.close();
  });

  /** At the IdP's development pages: log in as `user`, then consent. */
  async function signIn(page: Page, user: string): Promise<void> {
    await page.waitForURL((u) => u.href.startsWith(idp.issuer));
    await page.fill('input[name="login"]', user);
    await page.fill('input[name="password"]', 'any');
    await page.click('button[type="submit"]');
    const consent = page.locator('button[type="submit"]');
    if (await consent.count()) {
      if (page.url().startsWith(idp.issuer)) await consent.click();
    }
  }

  it('login → allowed → forbidden → logout → replay → admin revoke → group removed', async (ctx) => {
    if (!ready) return ctx.skip('chromium or nginx missing');
    const context = await browser.newContext();
    const page = await context.newPage();

    // 1. Log in; the app shows the user Verdict vouched for, and never sees Verdict's cookies.
    await page.goto(app('app', '/dashboards?x=1'));
    await signIn(page, 'alice');
    await page.waitForURL(app('app', '/dashboards?x=1'));
    assert.equal(await page.textContent('#hello'), 'Hello alice');
    assert.equal(await page.textContent('#groups'), 'sre');
    assert.doesNotMatch((await page.textContent('#cookie')) ?? '', /verdict/);
    const session = (await context.cookies(app('app'))).find((c) => c.name === '__Host-verdict_session')!;
    assert.ok(session.httpOnly && session.secure && session.sameSite === 'Lax' && session.path === '/');

    // 2. The forbidden app: a deny page with the decision id.
    const denied = await page.goto(app('forbidden', '/'));
    if (page.url().startsWith(idp.issuer)) await signIn(page, 'alice');
    await page.waitForURL((u) => u.host.startsWith('forbidden.localhost'));
    const body = (await page.textContent('body')) ?? '';
    assert.match(body, /Access denied/);
    const id = /Decision id: ([0-9a-f-]{36})/.exec(body)?.[1];
    assert.ok(id, `decision id on the deny page: ${body} (${denied?.status()})`);

    // 3. Logout, then replaying the old cookie is denied (sent to log in again).
    await page.goto(app('app', '/.verdict/logout'));
    if (page.url().startsWith(idp.issuer)) {
      const confirm = page.locator('button[type="submit"], input[type="submit"]');
      if (await confirm.count()) await confirm.first().click();
    }
    await page.waitForURL((u) => u.host.startsWith('app.localhost') || u.href.startsWith(idp.issuer));
    const replay = await browser.newContext();
    await replay.addCookies([session]);
    const rp = await replay.newPage();
    await rp.goto(app('app', '/'));
    assert.ok(rp.url().startsWith(idp.issuer), `the old cookie no longer works: ${rp.url()}`);
    await replay.close();

    // 4. A session revoked through the admin API is denied on the next request.
    const fresh = await browser.newContext();
    const p2 = await fresh.newPage();
    await p2.goto(app('app', '/'));
    await signIn(p2, 'alice');
    await p2.waitForURL(app('app', '/'));
    assert.equal(await p2.textContent('#hello'), 'Hello alice');
    const revoke = await fetch(`http://127.0.0.1:${t.app.httpPort}/admin/v1/sessions?subject=alice`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(revoke.status, 200);
    const before = (await fresh.cookies(app('app'))).find((c) => c.name === '__Host-verdict_session')!.value;
    const seen: string[] = [];
    p2.on('request', (r) => seen.push(r.url()));
    await p2.goto(app('app', '/'));
    // Revoked: the next request goes back through the IdP (which still knows alice, so it
    // signs her in again at once) and ends with a new session.
    if (p2.url().startsWith(idp.issuer)) await signIn(p2, 'alice');
    await p2.waitForURL(app('app', '/'));
    assert.ok(seen.some((u) => u.startsWith(`${idp.issuer}/auth`)), `revoked: sent to the IdP (${seen.join(' ')})`);
    const after = (await fresh.cookies(app('app'))).find((c) => c.name === '__Host-verdict_session')!.value;
    assert.notEqual(after, before, 'a new session replaced the revoked one');

    // 5. A group removed at the IdP is denied once the refresh bound has passed.
    assert.equal(await p2.textContent('#hello'), 'Hello alice');
    idp.users.get('alice')!.groups = ['dev'];
    await new Promise((r) => setTimeout(r, 2300));
    await p2.goto(app('app', '/'));
    assert.match((await p2.textContent('body')) ?? '', /Access denied/);
    idp.users.get('alice')!.groups = ['sre'];
    await fresh.close();
    await context.close();
  });

  it('a login whose code exchange fails at the IdP: a try-again page (502), the same on reload, and its link completes the login', async (ctx) => {
    if (!ready) return ctx.skip('chromium or nginx missing');
    const context = await browser.newContext();
    const page = await context.newPage();
    // What the browser fetched, for the failure messages.
    const trail: string[] = [];
    page.on('response', (r) => trail.push(`${r.status()} ${r.request().method()} ${r.url()}`));
    page.on('requestfailed', (r) => trail.push(`failed ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    idp.tokenFault = { status: 502 };
    idp.tokenFaultTimes = 1;
    try {
      const before = idp.tokenRequests;
      const callback = page.waitForResponse((r) => new URL(r.url()).pathname === '/.verdict/callback');
      await page.goto(app('app', '/reports?y=2'));
      await signIn(page, 'alice');
      assert.equal((await callback).status(), 502, trail.join('\n'));
      await page.waitForSelector('#again');
      assert.match((await page.textContent('body')) ?? '', /identity provider did not answer/);
      // A reload of the failed callback: the same page, and the code is not sent again.
      const reloaded = await page.reload();
      assert.equal(reloaded?.status(), 502, `${trail.join('\n')}\n${t.records().slice(-4).map((r) => `${String(r['url.path'])} ${String(r['verdict.detail'])}`).join('\n')}`);
      assert.equal(await page.textContent('#again'), 'Try again');
      assert.equal(idp.tokenRequests, before + 1);
      // The link: a new login (the IdP remembers alice), back to the page she asked for.
      await page.click('#again');
      await page.waitForURL((u) => u.href.startsWith(idp.issuer) || u.href === app('app', '/reports?y=2'));
      if (page.url().startsWith(idp.issuer)) await signIn(page, 'alice');
      await page.waitForURL(app('app', '/reports?y=2'));
      assert.equal(await page.textContent('#hello'), 'Hello alice');
    } finally {
      idp.heal();
      await context.close();
    }
  });
});
