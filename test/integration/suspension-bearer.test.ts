import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { httpRequest } from '../helpers/http.js';
import { TestIssuer } from '../helpers/idp.js';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

describe('admin suspension applies to bearer tokens (gRPC and HTTP modes)', () => {
  let idp: TestIssuer;
  let t: TestApp;
  let grpc: ReturnType<typeof authClient>;
  let token = '';
  let base = '';

  before(async () => {
    idp = await TestIssuer.start(['ES256']);
    t = await startTestApp(
      { 'demo.json': DEMO_POLICY },
      {
        http: { listen: '127.0.0.1:0', trusted_proxies: ['127.0.0.1/32'] },
        identity: { jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] }] },
        admin: { tokens: [{ name: 'ops', token: ADMIN_TOKEN }] },
      },
    );
    grpc = authClient(t.app.grpcPort);
    base = `http://127.0.0.1:${t.app.httpPort}`;
    token = await idp.token({ sub: 'alice', groups: ['sre'] });
  });
  after(async () => {
    grpc.close();
    await t.app.stop();
    await idp.close();
  });

  const admin = (path: string, method = 'POST') => fetch(`${base}/admin/v1/${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  async function answers(): Promise<{ grpc: number; grpcReasons: string[]; http: number; httpReasons: string[]; fa: number }> {
    const g = await grpc.check(envoyCheckRequest({ host: 'grafana.example.com', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }));
    const e = await httpRequest(`${base}/ext-authz/`, { headers: { host: 'grafana.example.com', authorization: `Bearer ${token}`, accept: 'application/json' } });
    const f = await httpRequest(`${base}/forward-auth`, { headers: { 'x-original-url': 'https://grafana.example.com/', 'x-original-method': 'GET', authorization: `Bearer ${token}` } });
    return {
      grpc: g.status?.code === 0 ? 200 : g.denied_response!.status!.code,
      grpcReasons: g.status?.code === 0 ? [] : (JSON.parse(g.denied_response!.body!) as { reasons: string[] }).reasons,
      http: e.status,
      httpReasons: e.status === 200 ? [] : (JSON.parse(e.body) as { reasons: string[] }).reasons,
      fa: f.status,
    };
  }

  it('a token that worked (and is cached) is refused from the next request on, and again accepted after unsuspend', async () => {
    assert.deepEqual(await answers(), { grpc: 200, grpcReasons: [], http: 200, httpReasons: [], fa: 200 });
    // The issuer defaults to the first JWT issuer when no OIDC login is configured.
    assert.equal((await admin('users/suspend?subject=alice')).status, 200);
    const denied = await answers();
    assert.deepEqual(denied, { grpc: 401, grpcReasons: ['user-suspended', 'user-unauthenticated'], http: 401, httpReasons: ['user-suspended', 'user-unauthenticated'], fa: 401 });
    const other = await idp.token({ sub: 'bob', email: 'boss@example.com' });
    const g = await grpc.check(envoyCheckRequest({ host: 'grafana.example.com', headers: { authorization: `Bearer ${other}` } }));
    assert.equal(g.status?.code, 0, 'another subject is not affected');
    assert.equal((await admin('users/unsuspend?subject=alice')).status, 200);
    assert.equal((await answers()).grpc, 200);
  });

  it('the denies are audited with the reason', async () => {
    await t.app.stop();
    const recs = t.records().filter((r) => (r['verdict.reasons'] as string[] | undefined)?.includes('user-suspended'));
    assert.equal(recs.length, 3);
    assert.ok(recs.every((r) => r['verdict.decision'] === 'deny' && r['http.response.status_code'] === 401 && /suspended/.test(String(r['verdict.identity_error']))), JSON.stringify(recs[0]));
  });
});
