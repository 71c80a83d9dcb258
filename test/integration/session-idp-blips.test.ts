import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest, headerValue, type CheckResponseJs } from '../helpers/envoy-client.js';
import { HTML, loginThroughCheck, setCookies, status } from '../helpers/login.js';
import { IdpBrowser, TestOidcProvider } from '../helpers/oidc-idp.js';
import { cookiePairs, sessionKey } from '../helpers/sessions.js';

/** Calls `probe` until it returns something, or fails after `boundMs`: no sleeps racing timers. */
async function until<T>(what: string, boundMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + boundMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`not within ${boundMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const body = (r: CheckResponseJs): { reasons: string[] } => JSON.parse(r.denied_response!.body!) as { reasons: string[] };

function oidc(issuer: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { issuer, client_id: 'verdict', client_secret: 'verdict-test-secret', scopes: ['openid', 'email', 'groups'], public_scheme: 'http', allow_insecure_http: true, ...extra };
}

describe('IdP blips: claims refresh and login callback against a real OIDC provider that fails', () => {
  let idp: TestOidcProvider;
  let t: TestApp;
  let client: ReturnType<typeof authClient>;
  // The operations log, as an operator would read it.
  const logLines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _enc, done) => (logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }));

  before(async () => {
    idp = await TestOidcProvider.start({ redirectUris: ['http://grafana.example.com/.verdict/callback'] });
    t = await startTestApp(
      { 'demo.json': DEMO_POLICY },
      {
        identity: {
          // Refresh due 1 s after login; the IdP may be away for 3 s more (retries after 375 ms, then every 750 ms).
          oidc: oidc(idp.issuer, { claims_refresh_interval: '1s', claims_refresh_grace: '3s', http_timeout: '1500ms' }),
          session: { keys: [sessionKey()], idle_timeout: '1h' },
        },
      },
      { log },
    );
    client = authClient(t.app.grpcPort);
  });
  after(async () => {
    client.close();
    await t.app.stop();
    await idp.close();
  });

  const check = (cookie: string, deadlineMs?: number) => client.check(envoyCheckRequest({ path: '/', headers: { accept: 'application/json', cookie } }), deadlineMs);
  const groups = (r: CheckResponseJs) => headerValue(r.ok_response?.headers, 'x-verdict-groups');
  const metric = async (kind: string): Promise<number> => Number(new RegExp(`verdict_session_refresh_failures_total\\{kind="${kind}"\\} (\\d+)`).exec(await t.app.metrics.registry.metrics())?.[1] ?? 0);

  it('token endpoint answering 500: the session keeps its claims within the grace period, retries with backoff, and takes the IdP\'s change once it is back', async () => {
    const { cookie } = await loginThroughCheck(client, 'alice');
    assert.equal(groups(await check(cookie)), 'sre');
    idp.tokenFault = { status: 500 };
    // At the IdP alice loses sre: while it fails, Verdict cannot know and keeps the last claims.
    idp.users.get('alice')!.groups = ['dev'];
    const unavailable = await metric('unavailable');
    try {
      const first = idp.tokenRequests;
      const stale = await until('a refresh was attempted', 3000, async () => {
        const r = await check(cookie);
        assert.equal(status(r), 200, 'allowed on its last claims');
        return idp.tokenRequests > first ? r : undefined;
      });
      assert.equal(groups(stale), 'sre', 'the last known claims');
      assert.equal(await metric('unavailable'), unavailable + 1);
      // In backoff: answered from the last claims without asking the IdP again.
      const attempts = idp.tokenRequests;
      assert.equal(status(await check(cookie)), 200);
      assert.equal(idp.tokenRequests, attempts, 'no new attempt during the backoff');
      // ...and retried after it.
      await until('a retry', 2000, async () => (status(await check(cookie)) === 200 && idp.tokenRequests > attempts ? true : undefined));
    } finally {
      idp.heal();
    }
    // Two failures, one warning line (at most one per 10 s), with the last error and no secret.
    const warned = logLines.filter((l) => String(l.msg).startsWith('IdP unavailable for claims refresh'));
    assert.equal(warned.length, 1, JSON.stringify(warned));
    assert.equal(warned[0]!.level, 40);
    assert.match(String(warned[0]!.last_error), /HTTP response status code|OAUTH_RESPONSE_IS_NOT_CONFORM/);
    assert.doesNotMatch(JSON.stringify(logLines), /verdict-test-secret|eyJ[A-Za-z0-9_-]{10,}/);
    // The IdP is back within the grace period: the next retry refreshes, and the group change applies.
    const after = await until('the refreshed claims apply', 3000, async () => {
      const r = await check(cookie);
      return status(r) === 403 ? r : undefined;
    });
    assert.deepEqual(body(after).reasons.sort(), ['email-unauthorized', 'groups-unauthorized']);
    idp.users.get('alice')!.groups = ['sre'];
  });

  it('IdP stopped: the session is kept within the grace period, then ends (401 invalid-session), and the audit records say which decisions used stale claims', async () => {
    const { cookie } = await loginThroughCheck(client, 'alice');
    const loggedInAt = Date.now();
    assert.equal(status(await check(cookie)), 200);
    await idp.stop();
    let staleAllows = 0;
    try {
      const ended = await until('the session ends after the grace period', 8000, async () => {
        const r = await check(cookie);
        if (status(r) === 200) {
          if (Date.now() - loggedInAt > 1100) staleAllows++;
          return undefined;
        }
        return r;
      });
      assert.equal(status(ended), 401);
      assert.deepEqual(body(ended).reasons, ['invalid-session', 'user-unauthenticated']);
      assert.ok(Date.now() - loggedInAt >= 3500, `not before interval + grace: ${Date.now() - loggedInAt} ms, ${JSON.stringify(t.records().findLast((r) => r['verdict.identity_error'])?.['verdict.identity_error'])}`);
      assert.ok(staleAllows > 0, 'allowed on its last claims meanwhile');
    } finally {
      await idp.start();
    }
    // Ended means ended: the IdP being back does not revive it.
    assert.equal(status(await check(cookie)), 401);
    const records = t.records().filter((r) => r['event.action'] === 'authorize' && r['verdict.auth_method'] === 'session');
    const stale = records.filter((r) => r['verdict.session_claims_stale'] === true);
    assert.ok(stale.length >= staleAllows - 1 && stale.every((r) => r['verdict.decision'] === 'allow' && r['user.id'] === 'alice'), `${stale.length} stale-claims records`);
    const endRecord = t.records().find((r) => String(r['verdict.identity_error'] ?? '').includes('past claims_refresh_grace'));
    assert.ok(endRecord, 'the audit record of the end says why');
    assert.match(String(endRecord['verdict.identity_error']), /ECONNREFUSED/);
  });

  it('invalid_grant (the user is gone at the IdP) ends the session at once, grace or not', async () => {
    const { cookie } = await loginThroughCheck(client, 'alice');
    assert.equal(status(await check(cookie)), 200);
    const refused = await metric('oauth_error');
    idp.users.delete('alice');
    try {
      const first = idp.tokenRequests;
      // Every answer until the refresh is 200 (claims still fresh); the one that refreshed is 401.
      const r = await until('the refresh', 3000, async () => {
        const res = await check(cookie);
        return idp.tokenRequests > first ? res : (assert.equal(status(res), 200), undefined);
      });
      assert.equal(status(r), 401);
      assert.deepEqual(body(r).reasons, ['invalid-session', 'user-unauthenticated']);
      assert.equal(await metric('oauth_error'), refused + 1);
      const rec = t.records().findLast((x) => x['verdict.decision_id'] === headerValue(r.denied_response?.headers, 'x-verdict-decision-id'));
      assert.match(String(rec?.['verdict.identity_error']), /refused by the IdP \(invalid_grant/);
    } finally {
      idp.users.set('alice', { email: 'alice@example.com', groups: ['sre'] });
    }
  });

  it('an OAuth error body with 400 ends the session, one with 503 temporarily_unavailable does not', async () => {
    const { cookie } = await loginThroughCheck(client, 'alice');
    idp.tokenFault = { status: 503, oauthError: 'temporarily_unavailable' };
    try {
      let first = idp.tokenRequests;
      const kept = await until('a refresh answered temporarily_unavailable', 3000, async () => {
        const res = await check(cookie);
        return idp.tokenRequests > first ? res : undefined;
      });
      assert.equal(status(kept), 200);
      idp.tokenFault = { status: 400, oauthError: 'invalid_grant' };
      first = idp.tokenRequests;
      const ended = await until('a refresh answered invalid_grant', 3000, async () => {
        const res = await check(cookie);
        return idp.tokenRequests > first ? res : (assert.equal(status(res), 200), undefined);
      });
      assert.equal(status(ended), 401);
    } finally {
      idp.heal();
    }
  });

  it('a slow IdP never holds a check past its deadline: answered from the last claims, and the next checks do not wait', async () => {
    const { cookie } = await loginThroughCheck(client, 'alice');
    idp.tokenFault = 'hang';
    try {
      const first = idp.tokenRequests;
      const started = await until('a refresh is in flight', 3000, async () => {
        const t0 = Date.now();
        const r = await check(cookie, 800);
        assert.equal(status(r), 200, 'answered, not DEADLINE_EXCEEDED');
        return idp.tokenRequests > first ? Date.now() - t0 : undefined;
      });
      assert.ok(started < 800, `the check that started the refresh answered within its deadline (${started} ms)`);
      // The refresh still hangs: a check joins it but does not wait for it again.
      const t1 = Date.now();
      assert.equal(status(await check(cookie, 800)), 200);
      assert.ok(Date.now() - t1 < 400, `a later check answers at once (${Date.now() - t1} ms)`);
      assert.equal(idp.tokenRequests, first + 1, 'one refresh in flight per session');
      // http_timeout (1.5 s) ends the hanging request: counted as unavailable, and retried later.
      const unavailable = await metric('unavailable');
      await until('the hanging refresh timed out', 3000, async () => ((await metric('unavailable')) > unavailable ? true : undefined));
      const record = t.records().findLast((r) => r['verdict.session_claims_stale'] === true);
      assert.ok(record, 'stale claims are in the audit record');
    } finally {
      idp.heal();
    }
  });

  describe('login callback', () => {
    /** A login up to the IdP's redirect back: its callback path and the login cookie. */
    async function toCallback(path: string): Promise<{ callback: string; loginCookie: string; state: string }> {
      const start = await client.check(envoyCheckRequest({ path, headers: { accept: HTML } }));
      assert.equal(status(start), 302);
      const authorize = headerValue(start.denied_response?.headers, 'location')!;
      const loginCookie = [...cookiePairs(setCookies(start))].map(([k, v]) => `${k}=${v}`).join('; ');
      const cb = new URL(await new IdpBrowser().login(authorize, 'alice'));
      return { callback: cb.pathname + cb.search, loginCookie, state: new URL(authorize).searchParams.get('state')! };
    }
    const callback = (path: string, cookie: string) => client.check(envoyCheckRequest({ path, headers: { accept: HTML, cookie } }));

    it('token endpoint failing once: a try-again page (502), the same on reload without a second exchange, a new login from its link, and a replay of the success refused', async () => {
      const { callback: cbPath, loginCookie, state } = await toCallback('/d/abc?x=1');
      const code = new URLSearchParams(cbPath.split('?')[1]).get('code')!;
      idp.tokenFault = { status: 502 };
      idp.tokenFaultTimes = 1;
      const before = idp.tokenRequests;
      const failed = await callback(cbPath, loginCookie);
      assert.equal(idp.tokenRequests, before + 1);
      assert.equal(status(failed), 502);
      const page = failed.denied_response!.body!;
      assert.match(page, /identity provider did not answer/);
      const again = /<a id="again" href="([^"]+)">Try again<\/a>/.exec(page)?.[1];
      assert.equal(again, '/.verdict/login?rd=%2Fd%2Fabc%3Fx%3D1', 'a new login back to where the person was going');
      assert.ok(!page.includes(code) && !page.includes(state), 'neither code nor state on the page');
      const h = failed.denied_response!.headers!;
      assert.equal(headerValue(h, 'content-security-policy'), "frame-ancestors 'none'");
      assert.equal(headerValue(h, 'x-frame-options'), 'DENY');
      assert.deepEqual(failed.dynamic_metadata?.fields?.reasons?.listValue?.values.map((v) => v.stringValue), ['login-failed', 'idp-unavailable']);
      // The login cookie became a marker that cannot complete anything.
      const marker = setCookies(failed).find((c) => c.startsWith('__Host-verdict_login_'))!;
      assert.doesNotMatch(marker, /Max-Age=0/);

      // Reload, with the marker (a browser) or with the old login cookie: the same page, no exchange.
      for (const cookie of [[...cookiePairs([marker])].map(([k, v]) => `${k}=${v}`).join('; '), loginCookie]) {
        const reload = await callback(cbPath, cookie);
        assert.equal(status(reload), 502);
        assert.match(reload.denied_response!.body!, /Try again/);
      }
      assert.equal(idp.tokenRequests, before + 1, 'the code was never sent twice');

      // The link starts a fresh login (new state), which completes and goes back to the page.
      const retry = await client.check(envoyCheckRequest({ path: again!.replaceAll('&amp;', '&'), headers: { accept: HTML } }));
      assert.equal(status(retry), 302);
      const authorize = headerValue(retry.denied_response?.headers, 'location')!;
      assert.notEqual(new URL(authorize).searchParams.get('state'), state);
      const retryCookie = [...cookiePairs(setCookies(retry))].map(([k, v]) => `${k}=${v}`).join('; ');
      const cb2 = new URL(await new IdpBrowser().login(authorize, 'alice'));
      const done = await callback(cb2.pathname + cb2.search, retryCookie);
      assert.equal(status(done), 302);
      assert.equal(headerValue(done.denied_response?.headers, 'location'), '/d/abc?x=1');
      const session = [...cookiePairs(setCookies(done).filter((c) => c.startsWith('__Host-verdict_session=')))].map(([k, v]) => `${k}=${v}`).join('; ');
      assert.equal(status(await check(session)), 200);

      // A replay of the callback that succeeded stays refused (400), and exchanges nothing.
      const exchanged = idp.tokenRequests;
      const replay = await callback(cb2.pathname + cb2.search, retryCookie);
      assert.equal(status(replay), 400);
      assert.equal(idp.tokenRequests, exchanged);
      assert.doesNotMatch(replay.denied_response!.body!, /Try again/);
    });

    it('the IdP stopped between authorize and callback, or dropping the connection: the try-again page', async () => {
      const { callback: cbPath, loginCookie } = await toCallback('/');
      await idp.stop();
      try {
        const r = await callback(cbPath, loginCookie);
        assert.equal(status(r), 502);
        assert.match(r.denied_response!.body!, /Try again/);
      } finally {
        await idp.start();
      }
      const dropped = await toCallback('/');
      idp.tokenFault = 'reset';
      idp.tokenFaultTimes = 1;
      try {
        const r = await callback(dropped.callback, dropped.loginCookie);
        assert.equal(status(r), 502);
        assert.match(r.denied_response!.body!, /Try again/);
      } finally {
        idp.heal();
      }
    });

    it('the IdP redirecting back with temporarily_unavailable gets the try-again page; access_denied is a denial with a start-over link', async () => {
      for (const [error, code, text] of [['temporarily_unavailable', 502, /Try again/], ['server_error', 502, /Try again/], ['access_denied', 403, /Start over/]] as const) {
        const start = await client.check(envoyCheckRequest({ path: '/d/x', headers: { accept: HTML } }));
        const state = new URL(headerValue(start.denied_response?.headers, 'location')!).searchParams.get('state')!;
        const loginCookie = [...cookiePairs(setCookies(start))].map(([k, v]) => `${k}=${v}`).join('; ');
        const r = await callback(`/.verdict/callback?error=${error}&state=${state}`, loginCookie);
        assert.equal(status(r), code, error);
        const page = r.denied_response!.body!;
        assert.match(page, text);
        assert.match(page, /href="\/\.verdict\/login\?rd=%2Fd%2Fx"/);
        if (code === 403) assert.doesNotMatch(page, /did not answer/);
        // JSON clients get the usual JSON body.
        const json = await client.check(envoyCheckRequest({ path: `/.verdict/callback?error=${error}&state=${state}`, headers: { accept: 'application/json', cookie: loginCookie } }));
        assert.equal(JSON.parse(json.denied_response!.body!).error, code === 502 ? 'bad_gateway' : 'forbidden');
      }
      // A crafted error callback without a login shows nothing of its own text.
      const crafted = await callback('/.verdict/callback?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=x', '');
      assert.equal(status(crafted), 403);
      assert.doesNotMatch(crafted.denied_response!.body!, /<script>|alert/);
    });
  });
});

describe('claims_refresh_grace 0s: the old behaviour', () => {
  it('a refresh that finds the IdP answering 500 ends the session at once', async () => {
    const idp = await TestOidcProvider.start({ redirectUris: ['http://grafana.example.com/.verdict/callback'] });
    const t = await startTestApp({ 'demo.json': DEMO_POLICY }, { identity: { oidc: oidc(idp.issuer, { claims_refresh_interval: '1s', claims_refresh_grace: '0s' }), session: { keys: [sessionKey()] } } });
    const client = authClient(t.app.grpcPort);
    try {
      const { cookie } = await loginThroughCheck(client, 'alice');
      idp.tokenFault = { status: 500 };
      const first = idp.tokenRequests;
      const r = await until('the refresh', 3000, async () => {
        const res = await client.check(envoyCheckRequest({ path: '/', headers: { accept: 'application/json', cookie } }));
        return idp.tokenRequests > first ? res : undefined;
      });
      assert.equal(status(r), 401);
      assert.deepEqual(JSON.parse(r.denied_response!.body!).reasons, ['invalid-session', 'user-unauthenticated']);
    } finally {
      client.close();
      await t.app.stop();
      await idp.close();
    }
  });
});
