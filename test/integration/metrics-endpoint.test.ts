import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { TestIssuer } from '../helpers/idp.js';

const POLICY = { version: 1, routes: [{ id: 'app', match: { hosts: ['app.example.com'] }, allow: { groups: { has: 'sre' } } }] };

/** One sample's value from the Prometheus text, or undefined. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('/metrics: readiness, token cache and audit write latency, as the dashboard reads them', () => {
  let issuer: TestIssuer;
  let t: TestApp;
  before(async () => {
    issuer = await TestIssuer.start(['ES256']);
    t = await startTestApp({ 'p.json': POLICY }, { identity: { jwt: [{ issuer: issuer.issuer, jwks_uri: issuer.jwksUri, audiences: ['verdict'] }] } });
  });
  after(async () => {
    await t.app.stop();
    await issuer.close();
  });

  it('counts a verified token as a miss and its repeats as hits; times every audit write; says ready', async () => {
    const client = authClient(t.app.grpcPort);
    const token = await issuer.token({ groups: ['sre'] });
    for (let i = 0; i < 3; i++) {
      const r = await client.check(envoyCheckRequest({ host: 'app.example.com', headers: { authorization: `Bearer ${token}` } }));
      assert.equal(r.status?.code ?? 0, 0);
    }
    await client.check(envoyCheckRequest({ host: 'app.example.com' }));
    client.close();
    const text = await (await fetch(`http://127.0.0.1:${t.app.httpPort}/metrics`)).text();
    assert.equal(sample(text, 'verdict_token_cache_total{result="miss"}'), 1);
    assert.equal(sample(text, 'verdict_token_cache_total{result="hit"}'), 2);
    assert.equal(sample(text, 'verdict_audit_write_seconds_count'), 4);
    assert.ok(sample(text, 'verdict_audit_write_seconds_sum')! > 0);
    assert.equal(sample(text, 'verdict_ready'), 1);
  });
});
