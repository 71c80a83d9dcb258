import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { httpRequest } from '../helpers/http.js';

// A public API whose DELETE is denied, and an admin area whose DELETE has its own (closed) route.
const POLICY = {
  version: 1,
  routes: [
    { id: 'admin-delete', match: { hosts: ['api.example.com'], path_prefix: '/admin', methods: ['DELETE'] }, allow: { reject: true } },
    { id: 'api', match: { hosts: ['api.example.com'] }, allow: { accept: true }, deny: { http_method: { in: ['DELETE', 'PUT'] } } },
    // Methods split by route: POST is open, DELETE closed.
    { id: 'files-post', match: { hosts: ['files.example.com'], methods: ['POST'] }, allow: { accept: true } },
    { id: 'files-delete', match: { hosts: ['files.example.com'], methods: ['DELETE'] }, allow: { reject: true } },
  ],
};

describe('method override: a POST an upstream framework runs as DELETE is decided as DELETE too (gRPC and HTTP modes)', () => {
  let t: TestApp;
  let grpc: ReturnType<typeof authClient>;
  let base: string;

  before(async () => {
    t = await startTestApp({ 'api.json': POLICY }, { http: { listen: '127.0.0.1:0', trusted_proxies: ['127.0.0.1/32'] } });
    grpc = authClient(t.app.grpcPort);
    base = `http://127.0.0.1:${t.app.httpPort}`;
  });
  after(async () => {
    grpc.close();
    await t.app.stop();
  });

  /** The status each transport answers for one request (gRPC once bound by Envoy to `api`, once matched by Verdict). */
  async function statuses(path: string, headers: Record<string, string> = {}, method = 'POST') {
    const check = async (route?: string) => {
      const r = await grpc.check(envoyCheckRequest({ method, host: 'api.example.com', path, headers: { accept: 'application/json', ...headers }, route }));
      return r.status?.code === 0 ? 200 : r.denied_response!.status!.code;
    };
    const e = await httpRequest(`${base}/ext-authz${path}`, { method, headers: { host: 'api.example.com', accept: 'application/json', ...headers } });
    const f = await httpRequest(`${base}/forward-auth`, { headers: { 'x-original-url': `https://api.example.com${path}`, 'x-original-method': method, accept: 'application/json', ...headers } });
    return { bound: await check('api'), matched: await check(), extAuthz: e.status, forwardAuth: f.status };
  }
  const all = (s: number) => ({ bound: s, matched: s, extAuthz: s, forwardAuth: s });

  it('a plain POST and GET are allowed (control)', async () => {
    assert.deepEqual(await statuses('/items/1'), all(200));
    assert.deepEqual(await statuses('/items/1', {}, 'GET'), all(200));
    assert.deepEqual(await statuses('/items/1', { 'x-http-method-override': 'POST' }), all(200), 'an override naming POST changes nothing');
    assert.deepEqual(await statuses('/items/1?_method=post'), all(200));
  });

  it('the deny on DELETE and PUT holds through every override header and `_method`, in any case', async () => {
    for (const [name, value] of [['x-http-method-override', 'DELETE'], ['X-HTTP-Method', 'delete'], ['x-method-override', 'Put'], ['x-http-method-override', 'GET, DELETE']]) {
      assert.deepEqual(await statuses('/items/1', { [name!]: value! }), all(403), `${name}: ${value}`);
    }
    assert.deepEqual(await statuses('/items/1?_method=DELETE'), all(403));
    assert.deepEqual(await statuses('/items/1?a=1&_method=put'), all(403));
    assert.deepEqual(await statuses('/items/1', { 'x-http-method-override': 'GET' }), all(200), 'an allowed method stays allowed');
  });

  it('only a POST is overridden (what the frameworks do)', async () => {
    assert.deepEqual(await statuses('/items/1', { 'x-http-method-override': 'DELETE' }, 'GET'), all(200));
  });

  it('bound by Envoy to a POST-only route, a POST decided as DELETE goes to the route a DELETE is bound to', async () => {
    const check = async (headers: Record<string, string>) => {
      const r = await grpc.check(envoyCheckRequest({ method: 'POST', host: 'files.example.com', path: '/f/1', headers: { accept: 'application/json', ...headers }, route: 'files-post' }));
      return r.status?.code === 0 ? 200 : r.denied_response!.status!.code;
    };
    assert.equal(await check({}), 200, 'a plain POST (control)');
    assert.equal(await check({ 'x-http-method-override': 'DELETE' }), 403);
  });

  it('decided as DELETE, a POST is matched to the DELETE-only route when Verdict matches routes', async () => {
    const s = await statuses('/admin/users/7', { 'x-http-method-override': 'DELETE' });
    // Bound to `api` by Envoy, its deny on DELETE holds; matched by Verdict, `admin-delete` refuses it.
    assert.deepEqual(s, all(403));
    await new Promise((r) => setTimeout(r, 50));
    const rec = t.records().find((r) => r['url.path'] === '/admin/users/7' && r['verdict.route'] === 'admin-delete');
    assert.ok(rec, 'decided under admin-delete');
    assert.deepEqual(rec['verdict.method_overrides'], ['DELETE']);
    assert.equal(rec['http.request.method'], 'POST', 'the record keeps the method as sent');
    assert.match(String(rec['verdict.detail']), /as DELETE \(method override of a POST\)/);
  });
});
