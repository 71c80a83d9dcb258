// Path agreement through real Envoy: hostile request targets, written byte for byte over
// TLS. Whatever Envoy does with each (refuse, normalize, route), the app must only ever get
// a request Verdict allowed, with the path Verdict decided on, under the route Envoy used.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { freePort } from '../../helpers/nginx.js';
import { tempDir } from '../../helpers/tmp.js';
import { hasTool } from '../../helpers/tools.js';
import { normalizeRequestHost } from '../../../src/request/normalize-host.js';
import { EchoUpstream } from './echo-upstream.js';
import { ENVOY, ENVOY_HINT, generatedBootstrap, localize, makeCert, rawTls, startEnvoy, type RawResponse, type RunningEnvoy } from './harness.js';

const HOST = 'paths.localhost';
const OTHER = 'other.localhost';

/** Request targets (and a few whole request heads) an attacker would try. */
const TARGETS: string[] = [
  // encoded dots and slashes
  '/public/../admin/x', '/public/%2e%2e/admin/x', '/public/%2E%2E/admin/x', '/public/.%2e/admin/x', '/public/%2e./admin/x',
  '/public/%2fadmin/x', '/public/..%2fadmin/x', '/public%2F..%2Fadmin/x', '/public/%2F%2E%2E%2Fadmin', '/%2e%2e/admin',
  '/public/%252e%252e/admin/x', '/public/%2561dmin/x', '/%61dmin/x', '/%41dmin/x', '/public/%7Euser',
  // double slashes and dot segments
  '//admin/x', '///admin/x', '/public//../admin/x', '/./admin/x', '/public/./../admin', '/public/x/..', '/public/.../admin',
  // backslashes
  '/public/..\\admin/x', '/public/%5c..%5cadmin/x', '/public\\..\\admin', '/\\admin/x',
  // dot segments with path parameters, and parameters on the protected route
  '/public/..;/admin/x', '/public/.;/admin/x', '/public/.;x/../admin/x', '/public/%2e%2e;/admin/x', '/public/..;jsessionid=1/admin/x',
  '/public/..%3b/admin/x', '/admin;x=1', '/admin;', '/admin;/secret', '/api/v1;x=1', '/api/v1;', '/api;x/v1', '/shop;jsessionid=AB/cart',
  '/public/a;b=1/c',
  // overlong and invalid UTF-8
  '/public/%c0%ae%c0%ae/admin/x', '/public/%c0%af..%c0%afadmin', '/public/%e0%80%ae%e0%80%ae/admin', '/public/%ff/x', '/public/caf%c3%a9',
  // fragments and %23
  '/public/%23/../admin/x', '/admin%23/x', '/public/x%23/../../admin', '/public/x#/../../admin/x', '/public/x#frag',
  // query tricks
  '/public/x?/../../admin/x', '/public/x?%2F..%2F..%2Fadmin', '/public/x%3F/../../admin/x', '/admin?/public/', '/public/x?a=1#/../admin',
  '/public/x??/../admin', '/api/v1?x=;/admin',
  // exact route and case
  '/api/v1', '/api/v1/', '/API/v1', '/Admin/x', '/api/v1/../v1',
  // control characters, NUL, spaces (encoded and raw)
  '/public/%00/../admin', '/public/x%0d%0aX-Injected:%201', '/public/x%20y', '/public/x%09',
  // not origin-form
  '*', 'admin/x', '',
];

/** Whole request heads: absolute-form targets and Host/authority disagreements. */
const HEADS: [string, string][] = [
  [`GET https://${HOST}/public/x HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET https://${HOST}/admin/x HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET https://${OTHER}/admin/x HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET https://${HOST}/admin/x HTTP/1.1\r\nHost: ${OTHER}`, HOST],
  [`GET http://${HOST}/../admin/x HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET https://${HOST}@${OTHER}/admin HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET //${OTHER}/admin HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: ${OTHER}`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: ${HOST}`, OTHER],
  [`GET /admin/x HTTP/1.1\r\nHost: ${HOST}\r\nHost: ${OTHER}`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: ${OTHER}\r\nHost: ${HOST}`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: PATHS.LOCALHOST.`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: ${HOST}:1`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: ${HOST}\r\nX-Forwarded-Host: ${OTHER}\r\nX-Original-URL: /public/x\r\nX-Rewrite-URL: /public/x`, HOST],
  [`GET /public/x HTTP/1.1\r\nHost: ${HOST}\r\nX-Original-URL: /admin/x\r\nX-Envoy-Original-Path: /admin/x`, HOST],
  [`GET /admin/x HTTP/1.0`, HOST],
  [`GET /public/x HTTP/1.1\r\nHost: ${OTHER}/admin`, HOST],
  [`GET /public/x HTTP/1.1\r\nHost: evil.example@${HOST}`, HOST],
  [`get /admin/x HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`OPTIONS * HTTP/1.1\r\nHost: ${HOST}`, HOST],
];

/**
 * How a lenient app could read a path it was given: every escape decoded (once), `\` as `/`,
 * `;` parameters cut off, dot segments resolved, slashes merged, case folded.
 */
function lenientRead(path: string, foldCase = true): string {
  let p = path.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  p = p.replace(/\\/g, '/').replace(/\u00c0\u00ae|\u00e0\u0080\u00ae/g, '.').replace(/\u00c0\u00af/g, '/');
  const out: string[] = [];
  for (const raw of p.split('/')) {
    const seg = raw.split(';')[0]!;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const last = p.split('/').at(-1)!.split(';')[0];
  const p2 = `/${out.join('/')}${out.length > 0 && (last === '' || last === '.' || last === '..') ? '/' : ''}`;
  return foldCase ? p2.toLowerCase() : p2;
}

/** The route of the test policy that a lenient app's reading of the path belongs to. */
function routeOfLenient(host: string, path: string): string {
  if (host === OTHER) return 'other-host';
  const p = lenientRead(path, false);
  return p.startsWith('/admin') ? 'admin' : p === '/api/v1' ? 'api' : p.startsWith('/public/') ? 'public' : 'catchall';
}

/** RFC 3986 §6.2.2.1: hex digits in escapes compare case-insensitively (Verdict writes them upper case). */
const upperEscapes = (p: string) => p.replace(/%[0-9a-fA-F]{2}/g, (e) => e.toUpperCase());

describe('path agreement through real Envoy: the app gets only what Verdict allowed, on the path it decided on', () => {
  let ready = false;
  let echo: EchoUpstream;
  let t: TestApp;
  let envoy: RunningEnvoy;
  let port = 0;
  let ca = '';

  before(async () => {
    if (!hasTool(ENVOY, ENVOY_HINT)) return;
    const dir = tempDir('verdict-envoy-paths-');
    const cert = makeCert(dir.dir, [HOST, OTHER]);
    ca = cert.pem;
    // One echo server per route: the server that got a request names the route Envoy used.
    echo = await EchoUpstream.start(['admin', 'api', 'public', 'catchall', 'other-host']);
    t = await startTestApp({
      'routes.json': {
        version: 1,
        routes: [
          { id: 'admin', match: { hosts: [HOST], path_prefix: '/admin' }, to: echo.url('admin'), allow: { reject: true } },
          { id: 'api', match: { hosts: [HOST], path: '/api/v1' }, to: echo.url('api'), allow: { accept: true } },
          { id: 'public', match: { hosts: [HOST], path_prefix: '/public/' }, to: echo.url('public'), allow: { accept: true } },
          { id: 'catchall', match: { hosts: [HOST], path_prefix: '/' }, to: echo.url('catchall'), allow_path_parameters: true, allow: { http_path: { not_in: ['/Admin/x'] } } },
          { id: 'other-host', match: { hosts: [OTHER], path_prefix: '/' }, to: echo.url('other-host'), allow: { http_path: { starts_with: '/public/' } } },
        ],
      },
    });
    port = await freePort();
    envoy = await startEnvoy(dir.dir, localize(generatedBootstrap(`${t.dir}/verdict.json`), { listen: port, verdictGrpc: t.app.grpcPort, tls: cert }));
    ready = true;
  });
  after(async () => {
    await envoy?.stop();
    await t?.app.stop();
    await echo?.close();
  });

  it('every hostile target: allowed ⇔ reached the app once, with the audited path, host and route', async (ctx) => {
    if (!ready) return ctx.skip(`envoy missing: ${ENVOY_HINT}`);
    const sent: { what: string; res: RawResponse | Error; reached: number }[] = [];
    const all: [string, string][] = [...TARGETS.map((target): [string, string] => [`GET ${target} HTTP/1.1\r\nHost: ${HOST}`, HOST]), ...HEADS];
    for (const [head, sni] of all) {
      const before = echo.received.length;
      const res = await rawTls(port, sni, `${head}\r\nConnection: close`, ca).catch((e: Error) => e);
      sent.push({ what: head.split('\r\n').join(' | '), res, reached: echo.received.length - before });
    }

    const records = await (async () => {
      await t.app.stop();
      return t.records().filter((r) => r['event.action'] === 'authorize');
    })();
    const byId = new Map(records.map((r) => [r['verdict.decision_id'] as string, r]));

    for (const s of sent) {
      const status = s.res instanceof Error ? 0 : s.res.status;
      // The echo app always answers 200: anything else came from Envoy or Verdict.
      assert.equal(s.reached, status === 200 ? 1 : 0, `${s.what}: ${status} but reached the app ${s.reached} times`);
    }
    for (const got of echo.received) {
      const what = `${got.name} got ${got.method} ${got.url} (host ${got.headers.host})`;
      const id = got.headers['x-verdict-decision-id'];
      assert.ok(id, `${what}: no decision id, so not decided by Verdict`);
      const rec = byId.get(id);
      assert.ok(rec, `${what}: decision ${id} is not in the audit trail`);
      assert.equal(rec['verdict.decision'], 'allow', `${what}: Verdict denied it`);
      assert.equal(rec['verdict.route'], got.name, `${what}: Verdict decided under another route than Envoy used`);
      assert.equal(upperEscapes(got.path), rec['url.path'], `${what}: the app got another path than Verdict decided on`);
      assert.equal(normalizeRequestHost(got.headers.host ?? ''), rec['server.address'], `${what}: the app got another host than Verdict decided on`);
      assert.notEqual(got.name, 'admin');
      assert.equal(routeOfLenient(rec['server.address'] as string, got.path), got.name, `${what}: a lenient app routes it elsewhere`);
      assert.ok(!lenientRead(got.path).startsWith('/admin'), `${what}: a lenient app reads ${lenientRead(got.path)}`);
    }
    // Denied decisions never reached the app (each allowed one is accounted for above).
    const reachedIds = new Set(echo.received.map((g) => g.headers['x-verdict-decision-id']));
    for (const r of records) if (r['verdict.decision'] === 'deny') assert.ok(!reachedIds.has(r['verdict.decision_id'] as string));
    // The corpus is not vacuous: some allowed, some refused by Verdict, some by Envoy itself.
    const allowed = sent.filter((s) => !(s.res instanceof Error) && s.res.status === 200).length;
    const byVerdict = records.filter((r) => r['verdict.decision'] === 'deny').length;
    assert.ok(allowed >= 15 && byVerdict >= 15 && sent.length - allowed - byVerdict >= 5, `allowed ${allowed}, denied by Verdict ${byVerdict}, of ${sent.length}`);
    if (process.env.VERDICT_PATH_REPORT) {
      for (const s of sent) console.log(s.res instanceof Error ? 'ERR' : s.res.status, s.what);
    }
  });
});
