import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest, headerValue } from '../helpers/envoy-client.js';
import { httpRequest, rawHttp } from '../helpers/http.js';
import { TestIssuer } from '../helpers/idp.js';

describe('HTTP modes: requests that cannot be read one way only', () => {
  let idp: TestIssuer;
  let t: TestApp;
  let sre = '';
  let dev = '';

  before(async () => {
    idp = await TestIssuer.start(['ES256']);
    t = await startTestApp(
      { 'demo.json': DEMO_POLICY },
      { http: { listen: '127.0.0.1:0', trusted_proxies: ['127.0.0.1/32'] }, identity: { jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] }] } },
    );
    sre = await idp.token({ sub: 'alice', groups: ['sre'] });
    dev = await idp.token({ sub: 'bob', groups: ['dev'] });
  });
  after(async () => {
    await t.app.stop();
    await idp.close();
  });

  const fa = 'GET /forward-auth HTTP/1.1\r\nhost: verdict\r\nx-original-url: https://grafana.example.com/d\r\nx-original-method: GET';
  const ea = 'GET /ext-authz/d HTTP/1.1';

  it('control: one Authorization and one Host are allowed', async () => {
    assert.equal((await rawHttp(t.app.httpPort, `${ea}\r\nhost: grafana.example.com\r\nauthorization: Bearer ${sre}`)).status, 200);
    assert.equal((await rawHttp(t.app.httpPort, `${fa}\r\nauthorization: Bearer ${sre}`)).status, 200);
  });

  it('a repeated Authorization is 400 bad-request, whichever copy comes first', async () => {
    for (const [a, b] of [[sre, dev], [dev, sre]]) {
      const e = await rawHttp(t.app.httpPort, `${ea}\r\nhost: grafana.example.com\r\nauthorization: Bearer ${a}\r\nauthorization: Bearer ${b}`);
      assert.equal(e.status, 400, e.text);
      assert.match(e.text, /bad-request/);
      const f = await rawHttp(t.app.httpPort, `${fa}\r\nauthorization: Bearer ${a}\r\nAuthorization: Bearer ${b}`);
      assert.equal(f.status, 400, f.text);
    }
  });

  it('a repeated Host (ext-authz) or forwarded request header (forward-auth) is 400 bad-request', async () => {
    const e = await rawHttp(t.app.httpPort, `${ea}\r\nhost: status.example.com\r\nhost: grafana.example.com\r\nauthorization: Bearer ${sre}`);
    assert.equal(e.status, 400, e.text);
    const f = await rawHttp(t.app.httpPort, `${fa}\r\nx-original-url: https://status.example.com/`);
    assert.equal(f.status, 400, f.text);
  });

  it('a host whose port is not a number (`public:@admin`, `a:80:90`) is 400, never read as the name before the colon', async () => {
    const grpc = authClient(t.app.grpcPort);
    try {
      for (const host of ['status.example.com:@grafana.example.com', 'status.example.com:80:90', 'status.example.com:x', '[::1]:80x', '[::1]junk']) {
        const g = await grpc.check(envoyCheckRequest({ host, path: '/d', headers: { accept: 'application/json' } }));
        assert.equal(g.denied_response?.status?.code, 400, `gRPC ${host}`);
        assert.equal((await rawHttp(t.app.httpPort, `${ea}\r\nhost: ${host}`)).status, 400, `ext-authz ${host}`);
        const f = await rawHttp(t.app.httpPort, 'GET /forward-auth HTTP/1.1\r\nhost: verdict\r\nx-forwarded-method: GET\r\nx-forwarded-proto: https\r\nx-forwarded-uri: /d\r\n' + `x-forwarded-host: ${host}`);
        assert.equal(f.status, 400, `forward-auth ${host}`);
      }
      // A port, an empty port and an IPv6 literal with a port are hosts (control).
      for (const host of ['status.example.com:443', 'status.example.com:', 'STATUS.example.com.:8443']) {
        const g = await grpc.check(envoyCheckRequest({ host, path: '/', headers: { accept: 'application/json' } }));
        assert.equal(g.status?.code ?? 0, 0, `gRPC ${host}`);
      }
    } finally {
      grpc.close();
    }
  });

  const VARIANTS = ['x_verdict_user', 'x-verdict_groups', 'x_verdict_email', 'x-verdict-jwt-assertion', 'x_verdict_jwt_assertion', 'x-verdict-admin', 'tailscale_user_login', 'tailscale-user-name', 'tailscale-app-capabilities', 'tailscale-funnel-request', 'tailscale-headers-info', 'tailscale_headers_info'];

  it('gRPC: every spelling of an identity header is in headers_to_remove', async () => {
    const grpc = authClient(t.app.grpcPort);
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${sre}`, 'x-verdict-user': 'mallory', 'x-other': '1' };
      for (const v of VARIANTS) headers[v] = 'spoof';
      const r = await grpc.check(envoyCheckRequest({ host: 'grafana.example.com', path: '/d', headers }));
      assert.equal(r.status?.code, 0);
      assert.deepEqual([...(r.ok_response!.headers_to_remove ?? [])].sort(), [...VARIANTS].sort(), 'x-verdict-user is overwritten, every other spelling removed');
      assert.equal(headerValue(r.ok_response!.headers, 'x-verdict-user'), 'alice');
    } finally {
      grpc.close();
    }
  });

  it('Envoy http_service: every spelling is named in x-envoy-auth-headers-to-remove', async () => {
    const headers: Record<string, string> = { host: 'grafana.example.com', authorization: `Bearer ${sre}` };
    for (const v of VARIANTS) headers[v] = 'spoof';
    const r = await httpRequest(`http://127.0.0.1:${t.app.httpPort}/ext-authz/d`, { headers });
    assert.equal(r.status, 200);
    assert.deepEqual(String(r.headers['x-envoy-auth-headers-to-remove']).split(',').sort(), [...VARIANTS].sort());
  });

  it('forward-auth: a spelling the proxy cannot strip is refused (400); the cleared names pass', async () => {
    const base = { 'x-original-url': 'https://status.example.com/', 'x-original-method': 'GET' };
    for (const v of ['x_verdict_user', 'X-Verdict_User', 'tailscale_user_login', 'x-verdict-admin', 'tailscale-something-new']) {
      const r = await httpRequest(`http://127.0.0.1:${t.app.httpPort}/forward-auth`, { headers: { ...base, [v]: 'spoof' } });
      assert.equal(r.status, 400, v);
    }
    const cleared = await httpRequest(`http://127.0.0.1:${t.app.httpPort}/forward-auth`, { headers: { ...base, 'x-verdict-user': 'spoof', 'tailscale-user-login': 'x', 'x-verdict-jwt-assertion': 'x' } });
    assert.equal(cleared.status, 200, 'names the documented configs overwrite or clear');
  });

  it('the refusals are audited as 400 bad-request', async () => {
    await t.app.stop();
    const refused = t.records().filter((r) => r['verdict.transport'] === 'http' && r['http.response.status_code'] === 400);
    assert.ok(refused.length >= 6, `${refused.length} refusals audited`);
    assert.ok(refused.every((r) => r['verdict.decision'] === 'deny' && (r['verdict.reasons'] as string[]).includes('bad-request')));
    assert.ok(refused.some((r) => /repeated authorization header/.test(String(r['verdict.detail']))));
    assert.ok(refused.some((r) => /repeated host header/.test(String(r['verdict.detail']))));
  });
});
