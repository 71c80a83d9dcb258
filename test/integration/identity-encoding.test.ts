import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest, headerValue } from '../helpers/envoy-client.js';
import { httpRequest } from '../helpers/http.js';
import { TestIssuer } from '../helpers/idp.js';

// Values a real IdP issues that are not Latin-1: each used to give a 500 while the audit said allow/200.
const WHO = { sub: 'Ιωάννης 🦄', email: 'иван@пример.рф', email_verified: true, groups: ['sre', 'Админы', 'ops,eu', '50%'] };

describe('identity values beyond Latin-1 travel percent-encoded, and answer and audit agree', () => {
  let idp: TestIssuer;
  let t: TestApp;
  let token = '';

  before(async () => {
    idp = await TestIssuer.start(['ES256']);
    t = await startTestApp(
      { 'demo.json': DEMO_POLICY },
      { http: { listen: '127.0.0.1:0', trusted_proxies: ['127.0.0.1/32'] }, identity: { jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] }] } },
    );
    token = await idp.token(WHO);
  });
  after(async () => {
    await t.app.stop();
    await idp.close();
  });

  const decoded = (h: (name: string) => string | undefined) => ({
    user: decodeURIComponent(h('x-verdict-user')!),
    email: decodeURIComponent(h('x-verdict-email')!),
    groups: h('x-verdict-groups')!.split(',').map(decodeURIComponent),
  });
  const want = { user: WHO.sub, email: WHO.email, groups: WHO.groups };
  const ids: string[] = [];

  it('gRPC: allow with ASCII header values that decode to the claims', async () => {
    const grpc = authClient(t.app.grpcPort);
    try {
      const r = await grpc.check(envoyCheckRequest({ host: 'grafana.example.com', headers: { authorization: `Bearer ${token}` } }));
      assert.equal(r.status?.code, 0);
      for (const h of r.ok_response!.headers!) assert.match(h.header.value, /^[!-~]*$/, `${h.header.key} is visible ASCII`);
      assert.deepEqual(decoded((n) => headerValue(r.ok_response!.headers, n)), want);
      ids.push(headerValue(r.ok_response!.headers, 'x-verdict-decision-id')!);
    } finally {
      grpc.close();
    }
  });

  it('HTTP modes: 200 (not 500) with the same encoding', async () => {
    const base = `http://127.0.0.1:${t.app.httpPort}`;
    const e = await httpRequest(`${base}/ext-authz/d`, { headers: { host: 'grafana.example.com', authorization: `Bearer ${token}` } });
    const f = await httpRequest(`${base}/forward-auth`, { headers: { 'x-original-url': 'https://grafana.example.com/d', 'x-original-method': 'GET', authorization: `Bearer ${token}` } });
    for (const r of [e, f]) {
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(decoded((n) => r.headers[n] as string | undefined), want);
      ids.push(r.headers['x-verdict-decision-id'] as string);
    }
  });

  it('every answer above is audited as the allow/200 it was', async () => {
    await t.app.stop();
    const recs = t.records().filter((r) => ids.includes(r['verdict.decision_id'] as string));
    assert.equal(recs.length, 3);
    for (const r of recs) {
      assert.equal(r['verdict.decision'], 'allow');
      assert.equal(r['http.response.status_code'], 200);
      assert.equal(r['user.id'], WHO.sub, 'the record holds the value itself, not its encoding');
    }
  });
});
