import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { verdict, verdictAsyncResult } from '../helpers/cli.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { httpRequest } from '../helpers/http.js';
import { TestIssuer } from '../helpers/idp.js';
import { tempDir } from '../helpers/tmp.js';

// Identity is (iss, sub): a second IdP's `alice` or `admins` is not the first one's.
function policy(partner: string) {
  return {
    version: 1,
    routes: [
      { id: 'admin', match: { hosts: ['admin.example.com'] }, allow: { or: [{ user: 'alice' }, { groups: { has: 'admins' } }] } },
      { id: 'wiki', match: { hosts: ['wiki.example.com'] }, allow: { accept: true }, deny: { user: { in: ['mallory'] } } },
      { id: 'partner', match: { hosts: ['partner.example.com'] }, issuers: [partner], allow: { groups: { has: 'partners' } } },
    ],
  };
}

describe('issuer scoping: identity criteria match only identities from the issuers a route trusts', () => {
  let home: TestIssuer;
  let partner: TestIssuer;
  let t: TestApp;
  let grpc: ReturnType<typeof authClient>;
  let config: Record<string, unknown>;

  before(async () => {
    home = await TestIssuer.start(['ES256']);
    partner = await TestIssuer.start(['ES256']);
    config = {
      http: { listen: '127.0.0.1:0', trusted_proxies: ['127.0.0.1/32'] },
      identity: {
        jwt: [
          { issuer: home.issuer, jwks_uri: home.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] },
          { issuer: partner.issuer, jwks_uri: partner.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] },
        ],
      },
    };
    t = await startTestApp({ 'p.json': policy(partner.issuer) }, config);
    grpc = authClient(t.app.grpcPort);
  });
  after(async () => {
    grpc.close();
    await t.app.stop();
    await home.close();
    await partner.close();
  });

  /** Status and reasons through gRPC, and status through both HTTP modes (which must agree). */
  async function ask(host: string, token: string): Promise<{ status: number; reasons: string[] }> {
    const g = await grpc.check(envoyCheckRequest({ host, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }));
    const status = g.status?.code === 0 ? 200 : g.denied_response!.status!.code;
    const reasons = status === 200 ? [] : (JSON.parse(g.denied_response!.body!) as { reasons: string[] }).reasons;
    const base = `http://127.0.0.1:${t.app.httpPort}`;
    const e = await httpRequest(`${base}/ext-authz/`, { headers: { host, authorization: `Bearer ${token}` } });
    const f = await httpRequest(`${base}/forward-auth`, { headers: { 'x-original-url': `https://${host}/`, 'x-original-method': 'GET', authorization: `Bearer ${token}` } });
    assert.equal(e.status, status, `ext-authz agrees for ${host}`);
    assert.equal(f.status, status, `forward-auth agrees for ${host}`);
    return { status, reasons };
  }

  it('the first issuer is trusted by default', async () => {
    assert.equal((await ask('admin.example.com', await home.token({ sub: 'alice', groups: [] }))).status, 200);
    assert.equal((await ask('admin.example.com', await home.token({ sub: 'bob', groups: ['admins'] }))).status, 200);
  });

  it("the second issuer's alice and admins do not pass rules written for the first", async () => {
    assert.deepEqual(await ask('admin.example.com', await partner.token({ sub: 'alice', groups: [] })), { status: 401, reasons: ['issuer-untrusted'] });
    assert.deepEqual(await ask('admin.example.com', await partner.token({ sub: 'bob', groups: ['admins'] })), { status: 401, reasons: ['issuer-untrusted'] });
  });

  it('a deny cannot be evaded through another issuer, nor does it catch its namesake', async () => {
    assert.equal((await ask('wiki.example.com', await home.token({ sub: 'mallory' }))).status, 403);
    assert.deepEqual(await ask('wiki.example.com', await partner.token({ sub: 'mallory' })), { status: 401, reasons: ['issuer-untrusted'] });
    assert.equal((await ask('wiki.example.com', await home.token({ sub: 'carol' }))).status, 200);
  });

  it('a route naming its issuers trusts only those', async () => {
    assert.equal((await ask('partner.example.com', await partner.token({ sub: 'p1', groups: ['partners'] }))).status, 200);
    assert.deepEqual(await ask('partner.example.com', await home.token({ sub: 'p1', groups: ['partners'] })), { status: 401, reasons: ['issuer-untrusted'] });
  });

  it('verdict validate says which issuers each route trusts, and refuses an unknown one', async () => {
    const d = tempDir();
    d.write('p/p.json', policy(partner.issuer));
    d.write('v.json', { ...config, policies: { dir: 'p' } });
    const ok = verdict(['validate', '--config', 'v.json'], { cwd: d.dir });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, new RegExp(`route admin: trusts ${home.issuer} \\(default\\)`));
    assert.match(ok.stdout, new RegExp(`route partner: trusts ${partner.issuer} \\(route issuers\\)`));
    d.write('p/p.json', policy('https://typo.example.com'));
    const bad = verdict(['validate', '--config', 'v.json'], { cwd: d.dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /p\.json:\/routes\/2\/issuers\/0: issuer "https:\/\/typo\.example\.com" is not configured/);
  });

  it('verdict explain shows the trusted issuers and the identity issuer', async () => {
    const d = tempDir();
    d.write('p/p.json', policy(partner.issuer));
    d.write('v.json', { ...config, policies: { dir: 'p' } });
    d.write('req.json', envoyCheckRequest({ host: 'admin.example.com', headers: { authorization: `Bearer ${await partner.token({ sub: 'alice' })}` } }));
    // Async: this process serves the JWKS the child fetches.
    const r = await verdictAsyncResult(['explain', '--config', 'v.json', '--request', 'req.json'], { cwd: d.dir });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { status: number; reasons: string[]; trusted_issuers: string[]; identity: { issuer: string } };
    assert.equal(out.status, 401);
    assert.deepEqual(out.reasons, ['issuer-untrusted']);
    assert.deepEqual(out.trusted_issuers, [home.issuer]);
    assert.equal(out.identity.issuer, partner.issuer);
  });
});
