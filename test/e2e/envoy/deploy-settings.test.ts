// The `envoy` config section in real Envoy: the bootstrap exactly as `verdict envoy-config`
// prints it (no edits), with TLS termination and the redirect listener, mutual TLS to Verdict,
// verified upstream TLS, route timeouts and active health checks, against real upstreams.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { makeTestCerts } from '../../helpers/certs.js';
import { freePort } from '../../helpers/nginx.js';
import { tempDir } from '../../helpers/tmp.js';
import { hasTool } from '../../helpers/tools.js';
import { generatedBootstrap, poll, request, startEnvoy, type RunningEnvoy } from './harness.js';

type Seen = { host: string | undefined; path: string | undefined }[];

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('the generated config as deployed: TLS listener, HTTPS redirect, mTLS to Verdict, verified upstream TLS, timeouts, health checks', () => {
  let ready = false;
  let t: TestApp;
  let envoy: RunningEnvoy;
  let ca = '';
  let httpsPort = 0;
  let httpPort = 0;
  const servers: Server[] = [];
  const seen: Record<string, Seen> = { good: [], untrusted: [], misnamed: [], slow: [], sick: [] };
  const port: Record<string, number> = {};

  before(async () => {
    if (!hasTool('envoy') || !hasTool('openssl') || !hasTool('ca-certificates')) return;
    const dir = tempDir('verdict-envoy-deploy-');
    const certs = makeTestCerts(dir.dir, ['good.test', 'denied.test', 'untrusted.test', 'misnamed.test', 'slow.test', 'sick.test', '127.0.0.1']);
    ca = readFileSync(certs.caFile, 'utf8');
    const tlsOptions = { cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) };
    const handler = (name: string) => (req: IncomingMessage, res: import('node:http').ServerResponse) => {
      seen[name]!.push({ host: req.headers.host, path: req.url });
      if (name === 'slow') return; // never answers
      if (req.url === '/healthz') return void res.writeHead(name === 'sick' ? 503 : 200).end();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name} upstream saw ${req.url}`);
    };
    for (const name of ['good', 'untrusted', 'misnamed']) {
      const s = createTlsServer(tlsOptions, handler(name));
      servers.push(s);
      port[name] = await listen(s);
    }
    for (const name of ['slow', 'sick']) {
      const s = createServer(handler(name));
      servers.push(s);
      port[name] = await listen(s);
    }
    const to = (name: string) => `${name === 'slow' || name === 'sick' ? 'http' : 'https'}://127.0.0.1:${port[name]}`;
    // Verdict serves gRPC over mutual TLS; Envoy reaches it with envoy.verdict_tls.
    const verdictGrpc = { listen: '127.0.0.1:0', tls: { cert_file: certs.certFile, key_file: certs.keyFile, client_ca_file: certs.caFile } };
    httpsPort = await freePort();
    httpPort = await freePort();
    t = await startTestApp(
      {
        'routes.json': {
          version: 1,
          routes: [
            ...Object.keys(seen).map((name) => ({ id: name, match: { hosts: [`${name}.test`] }, to: to(name), allow: { accept: true } })),
            { id: 'denied', match: { hosts: ['denied.test'] }, to: to('good'), allow: { groups: { has: 'admins' } } },
          ],
        },
      },
      { policies: { require_route_id: true }, grpc: verdictGrpc },
    );
    const configFile = dir.write('envoy-verdict.json', {
      policies: { dir: t.policiesDir },
      grpc: verdictGrpc,
      envoy: {
        verdict_address: `127.0.0.1:${t.app.grpcPort}`,
        verdict_tls: { ca_file: certs.caFile, cert_file: certs.certFile, key_file: certs.keyFile },
        listen: `127.0.0.1:${httpPort}`,
        admin_listen: '127.0.0.1:0',
        tls: { cert_file: certs.certFile, key_file: certs.keyFile, listen: `127.0.0.1:${httpsPort}` },
        upstream: { timeout: '10s' },
        upstreams: [
          { to: to('good'), ca_file: certs.caFile },
          // Trusted CA, but the certificate does not name other.example.
          { to: to('misnamed'), ca_file: certs.caFile, sni: 'other.example' },
          { to: to('slow'), timeout: '500ms' },
          { to: to('sick'), health_check: { path: '/healthz', interval: '1s', timeout: '1s', unhealthy_threshold: 1, healthy_threshold: 1 } },
        ],
        // `untrusted` keeps the default: the system CA bundle, which does not know the test CA.
      },
    });
    envoy = await startEnvoy(dir.dir, generatedBootstrap(configFile));
    ready = true;
  });

  after(async () => {
    await envoy?.stop();
    await t?.app.stop();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });

  const logLine = (decisionOrPath: string) => envoy.accessLog(decisionOrPath);

  it('an https upstream whose certificate chains to ca_file and names the host gets the request; the access log has the decision, not the query', async (ctx) => {
    if (!ready) return ctx.skip('envoy or openssl is missing');
    const r = await request(httpsPort, 'good.test', '/hello?secret=s3cr3t', ca);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'good upstream saw /hello?secret=s3cr3t');
    const line = await logLine('good.test/hello');
    assert.match(line, /"GET good\.test\/hello" 200 /);
    assert.match(line, /decision_id=[0-9a-f-]{36} route=good decision=allow reasons=\[/);
    assert.doesNotMatch(envoy.lines.join('\n'), /s3cr3t/, 'query strings stay out of the access log');
  });

  it('a deny: the access log line carries the decision id Verdict sent, the route and the reasons', async (ctx) => {
    if (!ready) return ctx.skip('envoy or openssl is missing');
    const r = await request(httpsPort, 'denied.test', '/x', ca, { accept: 'application/json' });
    assert.equal(r.status, 401);
    const id = r.headers['x-verdict-decision-id']!;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const line = await logLine(`decision_id=${id}`);
    assert.match(line, / 401 .* route=denied decision=deny reasons=\[[^\]]*"user-unauthenticated"/);
  });

  it('an https upstream with an untrusted certificate, or one not naming the SNI, gets nothing: 503', async (ctx) => {
    if (!ready) return ctx.skip('envoy or openssl is missing');
    for (const name of ['untrusted', 'misnamed']) {
      const r = await request(httpsPort, `${name}.test`, '/x', ca);
      assert.equal(r.status, 503, `${name}: ${r.body}`);
      assert.deepEqual(seen[name], [], `${name} received no request`);
      assert.match(await logLine(`${name}.test/x`), /" 503 UF/);
    }
  });

  it('an upstream slower than its route timeout: 504 after the timeout', async (ctx) => {
    if (!ready) return ctx.skip('envoy or openssl is missing');
    const started = Date.now();
    const r = await request(httpsPort, 'slow.test', '/x', ca);
    assert.equal(r.status, 504);
    assert.ok(Date.now() - started >= 450, 'waited for the 500 ms timeout');
    assert.equal(seen.slow!.length, 1);
    assert.match(await logLine('slow.test/x'), /" 504 UT/);
  });

  it('an upstream failing its active health check is taken out: 503 without a request reaching it', async (ctx) => {
    if (!ready) return ctx.skip('envoy or openssl is missing');
    // Hosts start unhealthy until their first check; the failing check keeps this one out.
    const flags = await poll('the health check to fail', 10000, async () => {
      const f = await envoy.health(`upstream_127_0_0_1_${port.sick}`);
      return f.includes('failed_active_hc') ? f : undefined;
    });
    assert.match(flags, /failed_active_hc/);
    assert.ok(seen.sick!.length > 0 && seen.sick!.every((s) => s.path === '/healthz'), 'only health checks reached it');
    const r = await request(httpsPort, 'sick.test', '/x', ca);
    assert.equal(r.status, 503);
    assert.ok(seen.sick!.every((s) => s.path === '/healthz'));
    assert.match(await logLine('sick.test/x'), /" 503 UH/);
  });

  it('plain HTTP only redirects to the same URL on the HTTPS port', async (ctx) => {
    if (!ready) return ctx.skip('envoy or openssl is missing');
    const r = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: httpPort, path: '/a/b?q=1', headers: { host: 'good.test' } }, resolve);
      req.on('error', reject);
      req.end();
    });
    r.resume();
    assert.equal(r.statusCode, 301);
    assert.equal(r.headers.location, `https://good.test:${httpsPort}/a/b?q=1`);
    assert.ok(seen.good!.every((s) => s.path !== '/a/b?q=1'), 'nothing went upstream');
  });
});
