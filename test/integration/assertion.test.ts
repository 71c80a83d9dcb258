import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, exportPKCS8, generateKeyPair, jwtVerify } from 'jose';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest, headerValue } from '../helpers/envoy-client.js';
import { TestIssuer } from '../helpers/idp.js';
import { tempDir } from '../helpers/tmp.js';

describe('signed identity for upstreams (x-verdict-jwt-assertion)', () => {
  let idp: TestIssuer;
  let t: TestApp;
  let client: ReturnType<typeof authClient>;

  before(async () => {
    idp = await TestIssuer.start(['ES256']);
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const keyFile = tempDir().write('assertion-key.pem', await exportPKCS8(privateKey));
    t = await startTestApp(
      { 'demo.json': DEMO_POLICY },
      {
        identity: {
          jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] }],
          assertion: { key_file: keyFile, ttl: '60s', groups_prefix: ['sre', 'ops-'] },
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

  it('is verifiable with the published JWKS, for the requested host, with filtered groups', async () => {
    const token = await idp.token({ sub: 'alice', email: 'alice@example.com', groups: ['sre', 'dev', 'ops-oncall', 'x'.repeat(50)] });
    const res = await client.check(envoyCheckRequest({ headers: { authorization: `Bearer ${token}`, 'x-verdict-jwt-assertion': 'forged' } }));
    assert.equal(res.status?.code ?? 0, 0);
    const jwt = headerValue(res.ok_response!.headers, 'x-verdict-jwt-assertion')!;
    assert.notEqual(jwt, 'forged');
    const jwks = await (await fetch(`http://127.0.0.1:${t.app.httpPort}/.well-known/verdict/jwks.json`)).json();
    const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(jwks as never), { issuer: 'verdict', audience: 'grafana.example.com', algorithms: ['ES256'] });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.email, 'alice@example.com');
    assert.deepEqual(payload.groups, ['sre', 'ops-oncall']);
    assert.ok(payload.jti && payload.iat);
    assert.equal(payload.exp! - payload.iat!, 60);
    await assert.rejects(jwtVerify(jwt, createLocalJWKSet(jwks as never), { audience: 'status.example.com' }), /aud/);
  });

  it('is never forwarded from the client when Verdict sets none', async () => {
    const res = await client.check(envoyCheckRequest({ host: 'status.example.com', headers: { 'x-verdict-jwt-assertion': 'forged' } }));
    assert.equal(res.status?.code ?? 0, 0);
    assert.equal(headerValue(res.ok_response!.headers, 'x-verdict-jwt-assertion'), undefined);
    assert.ok(res.ok_response!.headers_to_remove!.includes('x-verdict-jwt-assertion'));
  });
});
