import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_ROUTES } from '../../src/servers/admin-api.js';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { status, loginThroughCheck } from '../helpers/login.js';
import { TestOidcProvider } from '../helpers/oidc-idp.js';
import { startRedis } from '../helpers/redis.js';
import { sessionKey } from '../helpers/sessions.js';
import { hasTool, requireTool } from '../helpers/tools.js';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

describe('two replicas on one Redis, and the admin API', () => {
  let idp: TestOidcProvider;
  let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
  let a: TestApp;
  let b: TestApp;
  let ca: ReturnType<typeof authClient>;
  let cb: ReturnType<typeof authClient>;
  const keys = [sessionKey()];
  const admin = (app: TestApp, method: string, path: string, token = ADMIN_TOKEN) =>
    fetch(`http://127.0.0.1:${app.app.httpPort}/admin/v1/${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });

  before(async () => {
    if (!hasTool('redis-server')) return;
    idp = await TestOidcProvider.start({ redirectUris: ['http://grafana.example.com/.verdict/callback'] });
    redis = await startRedis();
    const config = {
      identity: {
        oidc: { issuer: idp.issuer, client_id: 'verdict', client_secret: 'verdict-test-secret', scopes: ['openid', 'email', 'groups'], public_scheme: 'http', allow_insecure_http: true },
        session: { keys, store: { type: 'redis', url: redis.url } },
      },
      admin: { tokens: [{ name: 'ops-team', token: ADMIN_TOKEN }] },
    };
    a = await startTestApp({ 'demo.json': DEMO_POLICY }, config);
    b = await startTestApp({ 'demo.json': DEMO_POLICY }, config);
    ca = authClient(a.app.grpcPort);
    cb = authClient(b.app.grpcPort);
  });
  after(async () => {
    ca?.close();
    cb?.close();
    await a?.app.stop();
    await b?.app.stop();
    await redis?.stop();
    await idp?.close();
  });

  it('a session made on one replica works on the other; a revocation on one is seen by the other at once', async (t) => {
    if (!requireTool(t, 'redis-server')) return;
    const { cookie } = await loginThroughCheck(ca, 'alice');
    assert.equal(status(await cb.check(envoyCheckRequest({ headers: { cookie, accept: 'application/json' } }))), 200);

    const list = await admin(b, 'GET', 'sessions?subject=alice');
    assert.equal(list.status, 200);
    const sessions = ((await list.json()) as { sessions: { id: string }[] }).sessions;
    assert.equal(sessions.length, 1);
    const del = await admin(a, 'DELETE', `sessions/${sessions[0]!.id}`);
    assert.deepEqual(await del.json(), { revoked: true });
    const after = await cb.check(envoyCheckRequest({ headers: { cookie, accept: 'application/json' } }));
    assert.equal(status(after), 401);
    assert.deepEqual(JSON.parse(after.denied_response!.body!).reasons, ['invalid-session', 'user-unauthenticated']);
  });

  it('suspending a user ends their sessions everywhere at once; unsuspending lets them log in again', async (t) => {
    if (!requireTool(t, 'redis-server')) return;
    const { cookie } = await loginThroughCheck(cb, 'alice');
    assert.equal(status(await ca.check(envoyCheckRequest({ headers: { cookie, accept: 'application/json' } }))), 200);
    const res = await admin(b, 'POST', 'users/suspend?subject=alice');
    assert.deepEqual(await res.json(), { suspended: true, revoked: 1 });
    assert.equal(status(await ca.check(envoyCheckRequest({ headers: { cookie, accept: 'application/json' } }))), 401);
    assert.deepEqual(await (await admin(a, 'GET', 'users/suspended?subject=alice')).json(), { suspended: true });
    await admin(a, 'POST', 'users/unsuspend?subject=alice');
    const again = await loginThroughCheck(ca, 'alice');
    assert.equal(status(await cb.check(envoyCheckRequest({ headers: { cookie: again.cookie, accept: 'application/json' } }))), 200);
  });

  it('refuses admin calls without the right token, in constant time, and audits every call', async (t) => {
    if (!requireTool(t, 'redis-server')) return;
    assert.equal((await admin(a, 'GET', 'sessions?subject=alice', '')).status, 401);
    assert.equal((await admin(a, 'GET', 'sessions?subject=alice', 'wrong-token-wrong-token')).status, 401);
    await a.app.stop();
    const before = a.records().filter((r) => String(r['event.action']).startsWith('admin.')).length;
    // A fresh replica, to count records per call exactly.
    const c = await startTestApp({ 'demo.json': DEMO_POLICY }, {
      identity: { oidc: { issuer: idp.issuer, client_id: 'verdict', client_secret: 'verdict-test-secret', public_scheme: 'http', allow_insecure_http: true }, session: { keys, store: { type: 'redis', url: redis!.url } } },
      admin: { tokens: [{ name: 'ops-team', token: ADMIN_TOKEN }] },
    });
    for (const [method, path] of ADMIN_ROUTES) {
      await fetch(`http://127.0.0.1:${c.app.httpPort}/admin/v1/${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      await fetch(`http://127.0.0.1:${c.app.httpPort}/admin/v1/${path}`, { method });
    }
    await c.app.stop();
    const records = c.records().filter((r) => String(r['event.action']).startsWith('admin.'));
    assert.equal(records.length, ADMIN_ROUTES.length * 2, 'one record per call, refused ones included');
    for (const r of records.filter((x) => x['http.response.status_code'] !== 401)) assert.equal(r['verdict.admin'], 'ops-team');
    assert.ok(before >= 2, 'refused calls are audited');
    assert.doesNotMatch(JSON.stringify(records), new RegExp(ADMIN_TOKEN));
  });

  it('fails closed with 503 when Redis is gone', async (t) => {
    if (!requireTool(t, 'redis-server')) return;
    const { cookie } = await loginThroughCheck(cb, 'alice');
    await redis!.stop();
    const res = await cb.check(envoyCheckRequest({ headers: { cookie, accept: 'application/json' } }));
    assert.equal(status(res), 503);
    assert.deepEqual(JSON.parse(res.denied_response!.body!).reasons, ['internal-error']);
    assert.equal((await fetch(`http://127.0.0.1:${b.app.httpPort}/readyz`)).status, 503);
  });
});
