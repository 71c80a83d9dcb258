import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { httpRequest } from '../helpers/http.js';
import { TestIssuer } from '../helpers/idp.js';

describe('HTTP authorization modes over real HTTP', () => {
  let idp: TestIssuer;
  let t: TestApp;
  let base: string;
  before(async () => {
    idp = await TestIssuer.start(['ES256']);
    t = await startTestApp(
      { 'demo.json': DEMO_POLICY },
      { http: { listen: '127.0.0.1:0', trusted_proxies: ['127.0.0.1/32'] }, identity: { jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] }] } },
    );
    base = `http://127.0.0.1:${t.app.httpPort}`;
  });
  after(async () => {
    await t.app.stop();
    await idp.close();
  });

  it('Envoy http_service: exactly 200 allows, with identity headers', async () => {
    const token = await idp.token({ sub: 'alice', email: 'alice@example.com', groups: ['sre'] });
    const res = await httpRequest(`${base}/ext-authz/d/abc?x=1`, { headers: { host: 'grafana.example.com', authorization: `Bearer ${token}`, 'x-verdict-groups': 'admins', 'x-verdict-admin': '1' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-verdict-user'], 'alice');
    assert.equal(res.headers['x-verdict-groups'], 'sre');
    assert.match(String(res.headers['x-verdict-decision-id']), /^[0-9a-f-]{36}$/);
    assert.equal(res.headers['x-envoy-auth-headers-to-remove'], 'x-verdict-admin', 'x-verdict-groups is overwritten, x-verdict-admin removed');
  });

  it('Envoy http_service: denies with 401, www-authenticate and the decision id', async () => {
    const res = await httpRequest(`${base}/ext-authz/`, { headers: { host: 'grafana.example.com', accept: 'application/json' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="verdict"');
    const body = JSON.parse(res.body) as { decision_id: string; reasons: string[] };
    assert.equal(body.decision_id, res.headers['x-verdict-decision-id']);
    assert.deepEqual(body.reasons, ['user-unauthenticated']);
  });

  it('forward-auth: 200 / 401 / 403, and 400 for forwarded headers that cannot be trusted', async () => {
    const fa = (headers: Record<string, string>) => httpRequest(`${base}/forward-auth`, { headers });
    assert.equal((await fa({ 'x-original-url': 'https://status.example.com/x', 'x-original-method': 'GET' })).status, 200);
    assert.equal((await fa({ 'x-original-url': 'https://grafana.example.com/x', 'x-original-method': 'GET' })).status, 401);
    const dev = await idp.token({ sub: 'bob', groups: ['dev'] });
    assert.equal((await fa({ 'x-original-url': 'https://grafana.example.com/x', 'x-original-method': 'GET', authorization: `Bearer ${dev}` })).status, 403);
    assert.equal((await fa({ host: 'status.example.com' })).status, 400);
  });

  it('refuses path parameters (;) in both HTTP modes with 400 invalid-path', async () => {
    for (const path of ['/public/..;/admin', '/x/.;x/y', '/x/%2e%2e;/y', '/x/..;jsessionid=1/y', '/admin;x=1', '/admin;']) {
      const envoy = await httpRequest(`${base}/ext-authz${path}`, { headers: { host: 'status.example.com', accept: 'application/json' } });
      assert.equal(envoy.status, 400, path);
      assert.deepEqual((JSON.parse(envoy.body) as { reasons: string[] }).reasons, ['invalid-path'], path);
      const fa = await httpRequest(`${base}/forward-auth`, { headers: { 'x-original-url': `https://status.example.com${path}`, 'x-original-method': 'GET', accept: 'application/json' } });
      assert.equal(fa.status, 400, path);
      assert.deepEqual((JSON.parse(fa.body) as { reasons: string[] }).reasons, ['invalid-path'], path);
    }
  });

  it('audits HTTP-mode decisions like gRPC ones', async () => {
    await t.app.stop();
    const http = t.records().filter((r) => r['verdict.transport'] === 'http');
    assert.ok(http.length >= 6);
    assert.ok(http.some((r) => r['verdict.decision'] === 'allow' && r['user.id'] === 'alice' && r['url.path'] === '/d/abc'));
    assert.ok(http.some((r) => r['http.response.status_code'] === 400 && r['verdict.reasons'] instanceof Array));
  });
});
