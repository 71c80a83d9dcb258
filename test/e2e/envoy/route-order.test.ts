// Route order through real Envoy: the bootstrap `verdict envoy-config` prints binds every
// request to the route Verdict's own first match (explain, verdict test, the HTTP modes)
// picks, for hand-written traps and a random policy (fixed seed). It also checks the Envoy
// model the unit property test uses (test/helpers/envoy-route-model.ts) against real Envoy.
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { envoyRouteFor, ingressRoutes } from '../../helpers/envoy-route-model.js';
import { freePort } from '../../helpers/nginx.js';
import { tempDir } from '../../helpers/tmp.js';
import { hasTool } from '../../helpers/tools.js';
import { facts, policyOf } from '../../helpers/policy.js';
import { METHODS, PATHS, pick, randomRoute, REQUEST_HOSTS, rng } from '../../helpers/random-routes.js';
import { envoySection, generatedBootstrap, makeCert, poll, rawTls, startEnvoy, type Obj, type RunningEnvoy } from './harness.js';

const UPSTREAM = 'http://127.0.0.1:9';
const TRAPS = [
  { id: 'admin-only', match: { hosts: ['*.corp.test'], path_prefix: '/admin' }, to: UPSTREAM, allow: { groups: { has: 'admins' } } },
  { id: 'no-status', match: { path: '/server-status' }, to: UPSTREAM, allow: { reject: true } },
  { id: 'private-docs', match: { hosts: ['docs.corp.test'], path_prefix: '/private' }, allow: { reject: true } },
  { id: 'cafe', match: { hosts: ['docs.corp.test'], path_prefix: '/caf%C3%A9' }, to: UPSTREAM, allow: { reject: true } },
  { id: 'menu', match: { hosts: ['docs.corp.test'], path: '/men%C3%BC' }, to: UPSTREAM, allow: { reject: true } },
  { id: 'wiki-delete', match: { hosts: ['wiki.corp.test'], path_prefix: '/pages', methods: ['DELETE'] }, to: UPSTREAM, allow: { reject: true } },
  { id: 'wiki', match: { hosts: ['wiki.corp.test'] }, to: UPSTREAM, allow: { reject: true } },
  { id: 'docs', match: { hosts: ['docs.corp.test'] }, to: UPSTREAM, allow: { reject: true } },
];
const SEED = 7;

describe('through real Envoy: the generated config binds each request to Verdict\'s first-match route', () => {
  let ready = false;
  let t: TestApp;
  let envoy: RunningEnvoy;
  let port = 0;
  let ca = '';
  let routeConfig: Obj;
  // Every route refuses, so every answer carries a decision id to find its audit record by.
  const random = (() => {
    const r = rng(SEED);
    return Array.from({ length: 30 }, (_, i) => ({ ...randomRoute(r, i, () => UPSTREAM), id: `r${i}`, allow: { reject: true } }));
  })();

  before(async () => {
    if (!hasTool('envoy') || !hasTool('openssl')) return;
    const dir = tempDir('verdict-envoy-route-order-');
    const cert = makeCert(dir.dir, ['wiki.corp.test', 'docs.corp.test', ...REQUEST_HOSTS]);
    ca = cert.pem;
    port = await freePort();
    t = await startTestApp({ 'a-traps.json': { version: 1, routes: TRAPS }, 'b-random.json': { version: 1, routes: random } }, { envoy: envoySection({ tlsListen: port, tls: cert }) });
    const cfg = generatedBootstrap(`${t.dir}/verdict.json`, { verdictAddress: `127.0.0.1:${t.app.grpcPort}` });
    routeConfig = ingressRoutes(cfg);
    envoy = await startEnvoy(dir.dir, cfg);
    ready = true;
  });
  after(async () => {
    await envoy?.stop();
    await t?.app.stop();
  });

  /** The route Verdict decided a request under, as Envoy bound it: from the audit record of the answer's decision id. */
  const routeVia = async (hostHeader: string, sni: string, path: string, method = 'GET'): Promise<{ status: number; route: string | undefined }> => {
    const res = await rawTls(port, sni, [`${method} ${path} HTTP/1.1`, `Host: ${hostHeader}`, 'Accept: application/json', 'Connection: close'].join('\r\n'), ca);
    const id = res.headers['x-verdict-decision-id'];
    // No Envoy route: Envoy's own 404 (whether or not it asked Verdict first, which finds none either).
    if (id === undefined && res.status === 404) return { status: 404, route: undefined };
    assert.ok(id, `${method} ${hostHeader}${path}: no decision id (status ${res.status}: ${res.body.slice(0, 200)})`);
    const record = await poll(`audit record ${id}`, 5000, () => t.records().find((x) => x['verdict.decision_id'] === id));
    return { status: res.status, route: record['verdict.route'] as string | undefined };
  };

  it('an earlier wildcard or any-host rule, or a route without `to`, is not skipped for a host with its own virtual host', async (ctx) => {
    if (!ready) return ctx.skip('envoy or openssl missing');
    const admin = await routeVia('wiki.corp.test', 'wiki.corp.test', '/admin/users');
    assert.deepEqual(admin, { status: 401, route: 'admin-only' }, 'the admins-only rule for every *.corp.test host holds on wiki.corp.test');
    assert.equal((await routeVia('wiki.corp.test', 'wiki.corp.test', '/server-status')).route, 'no-status');
    assert.equal((await routeVia('docs.corp.test', 'docs.corp.test', '/private/plan')).route, 'private-docs');
    assert.equal((await routeVia('docs.corp.test', 'docs.corp.test', '/index')).route, 'docs');
    // Host as Verdict normalizes it: case, port and one trailing dot.
    assert.equal((await routeVia('WIKI.Corp.Test:443', 'wiki.corp.test', '/admin')).route, 'admin-only');
    assert.equal((await routeVia('wiki.corp.test.', 'wiki.corp.test', '/wiki')).route, 'wiki', 'a trailing dot reaches the same virtual host');
  });

  it("a /.verdict/ path that is not one of Verdict's own pages is bound as Verdict's first match, not to the virtual host's first route", async (ctx) => {
    if (!ready) return ctx.skip('envoy or openssl missing');
    // The first route of wiki.corp.test's virtual host is admin-only (*.corp.test, /admin); a
    // `/.verdict/` prefix route bound every such path to it, and sent it upstream when it allowed.
    assert.equal((await routeVia('wiki.corp.test', 'wiki.corp.test', '/.verdict/x')).route, 'wiki');
    assert.equal((await routeVia('docs.corp.test', 'docs.corp.test', '/.verdict/login')).route, 'docs', 'no browser login configured: not a page of Verdict');
  });

  it('a path literal with percent-escapes binds them in any hex case, as Verdict reads them (upper-cased)', async (ctx) => {
    if (!ready) return ctx.skip('envoy or openssl missing');
    for (const path of ['/caf%C3%A9/x', '/caf%c3%a9/x', '/caf%C3%a9']) assert.equal((await routeVia('docs.corp.test', 'docs.corp.test', path)).route, 'cafe', path);
    for (const path of ['/men%C3%BC', '/men%c3%bc']) assert.equal((await routeVia('docs.corp.test', 'docs.corp.test', path)).route, 'menu', path);
    assert.equal((await routeVia('docs.corp.test', 'docs.corp.test', '/men%c3%bc/x')).route, 'docs', 'an exact path stays exact');
  });

  /** Like routeVia over HTTP/2, where Envoy passes any `:method` token through (HTTP/1 refuses lower-case methods). */
  const routeViaH2 = (host: string, path: string, method: string): Promise<{ status: number; route: string | undefined }> =>
    new Promise((resolve, reject) => {
      const session = h2connect(`https://127.0.0.1:${port}`, { ca, servername: host });
      session.on('error', reject);
      const stream = session.request({ ':method': method, ':path': path, ':authority': host, accept: 'application/json' });
      let status = 0;
      let id: string | undefined;
      stream.on('response', (h) => {
        status = Number(h[':status']);
        id = h['x-verdict-decision-id'] as string | undefined;
      });
      stream.resume();
      stream.on('error', reject);
      stream.on('end', () => {
        session.close();
        if (id === undefined) return reject(new Error(`${method} ${host}${path}: no decision id (status ${status})`));
        poll(`audit record ${id}`, 5000, () => t.records().find((x) => x['verdict.decision_id'] === id)).then((r) => resolve({ status, route: r['verdict.route'] as string | undefined }), reject);
      });
      stream.end();
    });

  it('a method in another case binds the route Verdict picks (methods compare upper-cased), over HTTP/2', async (ctx) => {
    if (!ready) return ctx.skip('envoy or openssl missing');
    for (const method of ['DELETE', 'delete', 'Delete']) {
      assert.equal((await routeViaH2('wiki.corp.test', '/pages/home', method)).route, 'wiki-delete', `${method} /pages/home: the DELETE-only route, as Verdict's first match`);
    }
    assert.equal((await routeViaH2('wiki.corp.test', '/pages/home', 'get')).route, 'wiki');
    const policy = policyOf([...TRAPS]);
    assert.equal(policy.routes.find((x) => x.match?.(facts({ host: 'wiki.corp.test', path: '/pages/home', method: 'DELETE' })))?.id, 'wiki-delete');
  });

  it(`a random policy (seed ${SEED}): Envoy, the Envoy model and Verdict's linear first match agree`, async (ctx) => {
    if (!ready) return ctx.skip('envoy or openssl missing');
    const policy = policyOf([...TRAPS, ...random]);
    const r = rng(SEED * 1000);
    let routed = 0;
    for (let q = 0; q < 80; q++) {
      const [host, path, method] = [pick(r, REQUEST_HOSTS), pick(r, PATHS), pick(r, METHODS)];
      const linear = policy.routes.find((x) => x.match?.(facts({ host, path, method })))?.id;
      const got = await routeVia(host, host, path, method);
      assert.equal(got.route, linear, `${method} ${host}${path}: Envoy bound ${got.route ?? 'no route'}, Verdict's first match is ${linear ?? 'no route'}`);
      assert.equal(envoyRouteFor(routeConfig, host, path, method), linear, `the model agrees for ${method} ${host}${path}`);
      if (linear !== undefined) routed++;
      else assert.equal(got.status, 404);
    }
    assert.ok(routed > 30, `most requests find a route (${routed})`);
  });
});
