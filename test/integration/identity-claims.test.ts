import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { httpRequest } from '../helpers/http.js';
import { TestIssuer } from '../helpers/idp.js';

// Deny lists keyed on email, domain, group and method; allow by company domain.
const POLICY = {
  version: 1,
  routes: [
    {
      id: 'app',
      match: { hosts: ['app.example.com'], path_prefix: '/' },
      allow: { domain: { is: 'company.com' } },
      deny: {
        or: [
          { email: { in: ['mallory@company.com'] } },
          { groups: { has: 'banned' } },
          { http_method: { in: ['DELETE'] } },
        ],
      },
    },
    // Names a person can pick at many IdPs (group names, a mailbox's local part) are not trusted to fold into these.
    { id: 'ops', match: { hosts: ['ops.example.com'] }, allow: { or: [{ groups: { has: 'kube-admins' } }, { email: { is: 'king@company.com' } }, { domain: { is: 'kompany.com' } }] } },
  ],
};

describe('identity claims: email_verified, case, one @ (gRPC and HTTP modes)', () => {
  let idp: TestIssuer;
  let t: TestApp;
  let grpc: ReturnType<typeof authClient>;
  let base: string;

  before(async () => {
    idp = await TestIssuer.start(['ES256']);
    t = await startTestApp(
      { 'app.json': POLICY },
      { http: { listen: '127.0.0.1:0', trusted_proxies: ['127.0.0.1/32'] }, identity: { jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] }] } },
    );
    grpc = authClient(t.app.grpcPort);
    base = `http://127.0.0.1:${t.app.httpPort}`;
  });
  after(async () => {
    grpc.close();
    await t.app.stop();
    await idp.close();
  });

  /** The HTTP status each transport answers for one caller and method. */
  async function statuses(claims: Record<string, unknown>, method = 'GET'): Promise<{ grpc: number; extAuthz: number; forwardAuth: number }> {
    const token = await idp.token({ sub: 'u', email_verified: true, groups: [], ...claims });
    const authorization = `Bearer ${token}`;
    const g = await grpc.check(envoyCheckRequest({ method, host: 'app.example.com', path: '/x', headers: { authorization } }));
    const grpcStatus = g.status?.code === 0 ? 200 : g.denied_response!.status!.code;
    // Node's HTTP parser only takes upper-case methods; the lower-case one goes through forward-auth.
    const e = await httpRequest(`${base}/ext-authz/x`, { method: method.toUpperCase(), headers: { host: 'app.example.com', authorization } });
    const f = await httpRequest(`${base}/forward-auth`, { headers: { 'x-original-url': 'https://app.example.com/x', 'x-original-method': method, authorization } });
    return { grpc: grpcStatus, extAuthz: e.status, forwardAuth: f.status };
  }
  const all = (s: number) => ({ grpc: s, extAuthz: s, forwardAuth: s });

  it('a verified company email is allowed (control)', async () => {
    assert.deepEqual(await statuses({ email: 'ok@company.com' }), all(200));
    assert.deepEqual(await statuses({ email: 'OK@Company.COM' }), all(200), 'domains compare case-insensitively');
  });

  it('email_verified other than boolean true: no email, no domain', async () => {
    for (const v of ['true', 1, null, undefined]) {
      assert.deepEqual(await statuses({ email: 'ok@company.com', email_verified: v }), all(403), JSON.stringify(v));
    }
  });

  it('a deny on an email, a group or a method cannot be evaded by case', async () => {
    assert.deepEqual(await statuses({ email: 'Mallory@Company.com' }), all(403));
    assert.deepEqual(await statuses({ email: 'ok@company.com', groups: ['Banned'] }), all(403));
    const lower = await statuses({ email: 'ok@company.com' }, 'delete');
    assert.equal(lower.grpc, 403, 'gRPC: method delete');
    assert.equal(lower.forwardAuth, 403, 'forward-auth: X-Original-Method delete');
  });

  it('an address with two @ is not an email at the last domain', async () => {
    assert.deepEqual(await statuses({ email: 'attacker@evil.com@company.com' }), all(403));
    assert.deepEqual(await statuses({ email: 'company.com' }), all(403), 'no @ at all');
  });

  it('a non-ASCII letter never folds into an ASCII one: the Kelvin sign is not k, U+0130 is not i', async () => {
    const on = async (claims: Record<string, unknown>) => {
      const authorization = `Bearer ${await idp.token({ sub: 'u', email_verified: true, groups: [], ...claims })}`;
      const g = await grpc.check(envoyCheckRequest({ host: 'ops.example.com', path: '/x', headers: { authorization } }));
      const e = await httpRequest(`${base}/ext-authz/x`, { headers: { host: 'ops.example.com', authorization } });
      const f = await httpRequest(`${base}/forward-auth`, { headers: { 'x-original-url': 'https://ops.example.com/x', 'x-original-method': 'GET', authorization } });
      const emailHeader = g.ok_response?.headers?.find((h) => h.header?.key === 'x-verdict-email')?.header?.value;
      return { statuses: { grpc: g.status?.code === 0 ? 200 : g.denied_response!.status!.code, extAuthz: e.status, forwardAuth: f.status }, emailHeader };
    };
    assert.deepEqual((await on({ groups: ['Kube-Admins'] })).statuses, all(200), 'ASCII case still folds (control)');
    assert.deepEqual((await on({ groups: ['\u212Aube-admins'] })).statuses, all(403), 'group with a Kelvin sign is not kube-admins');
    assert.deepEqual((await on({ groups: ['\u212AUBE-ADM\u0130NS'] })).statuses, all(403));
    assert.deepEqual((await on({ email: '\u212Aing@company.com' })).statuses, all(403), 'email with a Kelvin sign is not king@company.com');
    assert.deepEqual((await on({ email: 'x@\u212Aompany.com' })).statuses, all(403), 'domain with a Kelvin sign is not kompany.com');
    const held = await on({ email: '\u212Aing@company.com', groups: ['kube-admins'] });
    assert.equal(held.statuses.grpc, 200);
    assert.equal(held.emailHeader, '%E2%84%AAing@company.com', 'x-verdict-email names the address as the IdP verified it, not king@company.com');
    assert.equal((await on({ email: 'ÉLODIE@company.com', groups: ['kube-admins'] })).emailHeader, '%C3%A9lodie@company.com', 'non-ASCII letters still lower-case among themselves');
  });

  it('the audit record names the normalized method and the lower-case email', async () => {
    await statuses({ email: 'OK@Company.COM' }, 'delete');
    // Claims reach the record: line terminators in them must not split it.
    await statuses({ sub: 'u\u2028x\u0085y', email: 'ok@company.com', groups: ['g\u2029', 'h\u009b'] });
    await t.app.stop();
    const raw = readFileSync(t.auditPath, 'utf8');
    assert.doesNotMatch(raw, /[\u007f-\u009f\u2028\u2029]/, 'audit lines carry escapes, never raw U+0085/U+2028/U+2029/C1');
    assert.equal(raw.split(/\r\n|[\n\r\u0085\u2028\u2029]/).filter(Boolean).length, raw.split('\n').filter(Boolean).length);
    const recs = t.records().filter((r) => r['event.action'] === 'authorize');
    assert.ok(recs.some((r) => r['http.request.method'] === 'DELETE' && r['user.email'] === 'ok@company.com' && r['http.response.status_code'] === 403));
    assert.ok(!recs.some((r) => r['user.email'] === 'attacker@evil.com@company.com'), 'a non-email never reaches the record as an email');
  });
});
