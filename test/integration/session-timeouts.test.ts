import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { loginThroughCheck, status } from '../helpers/login.js';
import { TestOidcProvider } from '../helpers/oidc-idp.js';
import { sessionKey } from '../helpers/sessions.js';

const POLICY = {
  version: 1,
  routes: [
    // A session belongs to the host that logged in: the fresh-login route is a path of that host.
    { id: 'fresh', match: { hosts: ['grafana.example.com'], path_prefix: '/fresh/' }, allow: { and: [{ groups: { has: 'sre' } }, { session_age: { max: '4s' } }] } },
    { id: 'app', match: { hosts: ['grafana.example.com'], path_prefix: '/' }, allow: { groups: { has: 'sre' } } },
  ],
};

describe('session lifetimes', () => {
  let idp: TestOidcProvider;
  const apps: TestApp[] = [];
  before(async () => {
    idp = await TestOidcProvider.start({ redirectUris: ['http://grafana.example.com/.verdict/callback'] });
  });
  after(async () => {
    for (const a of apps) await a.app.stop();
    await idp.close();
  });
  const start = async (session: Record<string, unknown>) => {
    const t = await startTestApp({ 'p.json': POLICY }, {
      identity: {
        oidc: { issuer: idp.issuer, client_id: 'verdict', client_secret: 'verdict-test-secret', scopes: ['openid', 'email', 'groups'], public_scheme: 'http', allow_insecure_http: true, claims_refresh_interval: '1h' },
        session: { keys: [sessionKey()], ...session },
      },
    });
    apps.push(t);
    return authClient(t.app.grpcPort);
  };
  const ask = (client: ReturnType<typeof authClient>, cookie: string, path = '/') =>
    client.check(envoyCheckRequest({ path, headers: { cookie, accept: 'application/json' } }));

  it('ends a session left idle longer than idle_timeout, and keeps one in use', async () => {
    // Bounds wide enough for a loaded machine: a step of 400 ms plus one check is far below the
    // 4 s idle timeout, and the final 5 s wait is past it whatever the load.
    const client = await start({ idle_timeout: '4s' });
    const { cookie } = await loginThroughCheck(client, 'alice');
    const began = Date.now();
    while (Date.now() - began < 5000) {
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(status(await ask(client, cookie)), 200, `in use after ${Date.now() - began} ms`);
    }
    await new Promise((r) => setTimeout(r, 5000));
    const res = await ask(client, cookie);
    assert.equal(status(res), 401);
    assert.deepEqual(JSON.parse(res.denied_response!.body!).reasons, ['invalid-session', 'user-unauthenticated']);
    client.close();
  });

  it('ends a session at max_age however busy it is', async () => {
    const client = await start({ max_age: '4s' });
    const { cookie } = await loginThroughCheck(client, 'alice');
    assert.equal(status(await ask(client, cookie)), 200);
    await new Promise((r) => setTimeout(r, 4300));
    assert.equal(status(await ask(client, cookie)), 401);
    client.close();
  });

  it('session_age counts from the login, for browser sessions too', async () => {
    const client = await start({});
    const { cookie } = await loginThroughCheck(client, 'alice');
    assert.equal(status(await ask(client, cookie, '/fresh/')), 200);
    await new Promise((r) => setTimeout(r, 4100));
    const res = await ask(client, cookie, '/fresh/');
    assert.equal(status(res), 403);
    assert.deepEqual(JSON.parse(res.denied_response!.body!).reasons, ['session-age-unauthorized']);
    client.close();
  });
});
