import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY } from '../helpers/app.js';
import { verdict, verdictAsync, verdictAsyncResult } from '../helpers/cli.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { TestIssuer } from '../helpers/idp.js';
import { tempDir } from '../helpers/tmp.js';

describe('options a command does not take', () => {
  it('are refused with exit 2, never ignored (serve --policies would serve another folder)', () => {
    const r = verdict(['serve', '--policies', 'mine']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), 'verdict serve: --policies is not an option of serve; set policies.dir in the --config file, or VERDICT_POLICIES_DIR (options: --config, --workers)');
    const e = verdict(['envoy-config', '--policies', 'mine']);
    assert.equal(e.code, 2);
    assert.match(e.stderr, /^verdict envoy-config: --policies is not an option of envoy-config; set policies\.dir/);
    assert.equal(e.stdout, '', 'no config printed for another folder than the one named');
    const a = verdict(['audit', 'verify', 'x.jsonl', '--format', 'json']);
    assert.equal(a.code, 2);
    assert.equal(a.stderr.trim(), 'verdict audit verify: --format is not an option of audit verify (options: --key, --live)');
  });
});

describe('verdict validate', () => {
  it('accepts the example policies', () => {
    const r = verdict(['validate']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^valid: \d+ routes in \d+ files, policy hash [0-9a-f]{64}$/m);
    // The built-in defaults verify no identity: said here as at start.
    assert.match(r.stdout, /^warning: no identity source is configured \(identity\.jwt for bearer tokens, identity\.oidc for browser logins\): routes api, grafana, admin need an identity and answer 401 to every request$/m);
    const t = tempDir();
    t.write('p/one.json', { version: 1, routes: [{ id: 'only', allow: { accept: true } }] });
    const one = verdict(['validate', '--policies', join(t.dir, 'p')]).stdout;
    assert.match(one, /^valid: 1 route in 1 file, policy hash /m);
    assert.doesNotMatch(one, /warning/, 'a public route needs no identity source');
  });

  it('prints one file:pointer: message line per problem and exits 1', () => {
    const t = tempDir();
    t.write('p/a.json', { version: 1, routes: [{ id: 'a', allow: { grups: { has: 'x' } } }] });
    t.write('p/b.json', '{"version": 1, "routes": [');
    t.write('p/c.json', DEMO_POLICY);
    const r = verdict(['validate', '--policies', join(t.dir, 'p')], { cwd: t.dir });
    assert.equal(r.code, 1);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2, r.stdout);
    assert.match(lines[0]!, /^p\/a\.json:\/routes\/0\/allow\/grups: unknown key "grups"; did you mean "groups"\? \(allowed here: /);
    assert.match(lines[1]!, /^p\/b\.json:: not valid JSON/);
  });

  it('refuses path literals no normalized request path can match (they would let requests through to a later route)', () => {
    const t = tempDir();
    const route = (id: string, match: Record<string, unknown>, allow: Record<string, unknown> = { reject: true }) => ({ id, match, allow });
    t.write('p/a.json', {
      version: 1,
      routes: [
        route('tilde', { path_prefix: '/%7Ealice/' }),
        route('escape-case', { path: '/caf%c3%a9' }),
        route('slashes', { path_prefix: '/a//b' }),
        route('dots', { path: '/a/../admin' }),
        route('query', { path: '/a?x=1' }),
        route('encoded-slash', { path_prefix: '/a%2Fb' }),
        { id: 'deny', match: { path_prefix: '/' }, allow: { accept: true }, deny: { http_path: { starts_with: '/%7eadmin' } } },
        { id: 'deny2', match: { path_prefix: '/' }, allow: { accept: true }, deny: { http_path: { in: ['/x', '/x//y'] } } },
        // Normal forms, and prefixes that end inside a segment or an escape, load.
        route('ok', { path_prefix: '/~alice/.well-known' }),
        route('ok2', { path_prefix: '/caf%C3' }),
        route('ok3', { path_prefix: '/a%2' }),
        route('ok4', { path: '/caf%C3%A9/' }),
      ],
    });
    const r = verdict(['validate', '--policies', join(t.dir, 'p')], { cwd: t.dir });
    assert.equal(r.code, 1);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'p/a.json:/routes/0/match/path_prefix: "/%7Ealice/" never matches: policies see the normalized path; write "/~alice/"',
      'p/a.json:/routes/1/match/path: "/caf%c3%a9" never matches: policies see the normalized path; write "/caf%C3%A9"',
      'p/a.json:/routes/2/match/path_prefix: "/a//b" never matches: policies see the normalized path; write "/a/b"',
      'p/a.json:/routes/3/match/path: "/a/../admin" never matches: policies see the normalized path; write "/admin"',
      'p/a.json:/routes/4/match/path: "/a?x=1" never matches: policies see the normalized path without its query',
      'p/a.json:/routes/5/match/path_prefix: "/a%2Fb" never matches: requests with such a path are refused (encoded slash or backslash)',
      'p/a.json:/routes/6/deny/http_path/starts_with: "/%7eadmin" never matches: policies see the normalized path; write "/~admin"',
      'p/a.json:/routes/7/deny/http_path/in/1: "/x//y" never matches: policies see the normalized path; write "/x/y"',
    ]);
  });

  it('reports key and certificate files serve could not read, like serve would refuse them', () => {
    const t = tempDir();
    t.write('p/p.json', DEMO_POLICY);
    t.write('v.json', { policies: { dir: 'p' }, audit: { sink: 'file', path: 'a.jsonl', signing_key_file: 'keys/audit.pem' }, identity: { assertion: { key_file: 'keys/assertion.pem' } } });
    const r = verdict(['validate', '--config', 'v.json'], { cwd: t.dir });
    assert.equal(r.code, 1, r.stdout);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `v.json:/audit/signing_key_file: cannot read ${join(t.dir, 'keys/audit.pem')}: no such file (ENOENT)`,
      `v.json:/identity/assertion/key_file: cannot read ${join(t.dir, 'keys/assertion.pem')}: no such file (ENOENT)`,
    ]);
  });

  it('refuses a header rule on a Verdict identity header (x-verdict-*, any spelling): in a request only the client sets it', () => {
    const t = tempDir();
    t.write('p/a.json', {
      version: 1,
      routes: [
        { id: 'a', allow: { header: { name: 'X-Verdict-Groups', contains: 'admins' } } },
        { id: 'b', allow: { header: { name: 'X_Verdict_User', is: 'alice' } } },
        { id: 'c', allow: { header: { name: 'x-api-version', is: '2' } } },
      ],
    });
    const r = verdict(['validate', '--policies', join(t.dir, 'p')], { cwd: t.dir });
    assert.equal(r.code, 1);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'p/a.json:/routes/0/allow/header/name: "X-Verdict-Groups" is an identity header Verdict sets for the upstream: in a request it is whatever the client sent; use user, email, groups or claim',
      'p/a.json:/routes/1/allow/header/name: "X_Verdict_User" is an identity header Verdict sets for the upstream: in a request it is whatever the client sent; use user, email, groups or claim',
    ]);
  });

  it('reports config problems with their pointer', () => {
    const t = tempDir();
    const file = t.write('v.json', { grpc: { listen: 9191 } });
    const r = verdict(['validate', '--config', 'v.json'], { cwd: t.dir });
    assert.equal(file.endsWith('v.json'), true);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim(), 'v.json:/grpc/listen: must be string');
  });
});

describe('verdict test', () => {
  it('passes on the repository example policies', () => {
    const r = verdict(['test']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^\d+ passed, 0 failed$/m);
  });

  it('prints the difference of each failing case and exits 1', () => {
    const t = tempDir();
    t.write('policies/p.json', DEMO_POLICY);
    t.write('policies/tests/t.json', {
      cases: [
        { name: 'right', request: { method: 'GET', host: 'status.example.com', path: '/' }, expect: { decision: 'allow', reasons: ['accept'] } },
        { name: 'wrong', request: { method: 'GET', host: 'grafana.example.com', path: '/' }, identity: { sub: 'u', groups: ['dev'] }, expect: { decision: 'allow', status: 200, reasons: ['groups-ok'] } },
        { name: 'unknown route id', request: { method: 'GET', host: 'grafana.example.com', path: '/', route: 'grafan' }, identity: { sub: 'u', groups: ['sre'] }, expect: { decision: 'allow', status: 200 } },
      ],
    });
    const r = verdict(['test'], { cwd: t.dir });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL policies\/tests\/t\.json "wrong": decision: expected allow, got deny; status: expected 200, got 403; reasons: expected \["groups-ok"\], got \["email-unauthorized","groups-unauthorized"\]; detail: allow rule did not match$/m);
    assert.match(r.stdout, /^FAIL policies\/tests\/t\.json "unknown route id": decision: expected allow, got deny; status: expected 200, got 404; reasons: got \["route-not-found"\]; detail: Envoy named route "grafan", which no policy defines$/m);
    assert.match(r.stdout, /^1 passed, 2 failed$/m);
  });
});

describe('verdict explain', () => {
  let idp: TestIssuer;
  before(async () => {
    idp = await TestIssuer.start(['ES256']);
  });
  after(() => idp.close());

  it('decides the example request', () => {
    const r = verdict(['explain', '--request', 'examples/check-request.json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.decision, 'allow');
    assert.equal(out.status, 200);
    assert.equal(out.route, 'status');
    assert.deepEqual(out.reasons, ['accept']);
    assert.equal(out.identity, null);
  });

  it('verifies a bearer token in the request like serve does', async () => {
    const t = tempDir();
    t.write('policies/p.json', DEMO_POLICY);
    const config = t.write('verdict.json', { identity: { jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] }] } });
    const good = await idp.token({ sub: 'alice', groups: ['sre'] });
    const req = (token: string) => t.write(`req-${token.length}.json`, { attributes: { request: { http: { method: 'GET', host: 'grafana.example.com', path: '/', headers: { authorization: `Bearer ${token}` } } } } });
    const ok = JSON.parse((await verdictAsyncResult(['explain', '--config', config, '--request', req(good)])).stdout);
    assert.equal(ok.decision, 'allow');
    assert.deepEqual(ok.identity.groups, ['sre']);
    assert.equal(ok.identity.user, 'alice');
    const bad = JSON.parse((await verdictAsyncResult(['explain', '--config', config, '--request', req(`${good}x`)])).stdout);
    assert.equal(bad.decision, 'deny');
    assert.equal(bad.status, 401);
    assert.deepEqual(bad.reasons, ['invalid-token', 'user-unauthenticated']);
    assert.equal(bad.identity, null);
  });

  it('denies a request without HTTP attributes', () => {
    const t = tempDir();
    const r = verdict(['explain', '--request', t.write('r.json', { attributes: {} })]);
    assert.equal(JSON.parse(r.stdout).status, 400);
  });

  it('refuses a request file with a misplaced or misspelt field (exit 2) instead of deciding another request', () => {
    const t = tempDir();
    t.write('policies/p.json', DEMO_POLICY);
    const http = { method: 'GET', host: 'grafana.example.com', path: '/' };
    // context_extensions belongs inside attributes: beside it, the route binding would be lost.
    const misplaced = (t.write('a.json', { attributes: { request: { http } }, context_extensions: { route: 'grafana' } }), verdict(['explain', '--request', 'a.json'], { cwd: t.dir }));
    assert.equal(misplaced.code, 2);
    assert.equal(misplaced.stdout, '');
    assert.equal(misplaced.stderr.trim(), 'verdict explain: a.json: not an Envoy CheckRequest in proto3 JSON: CheckRequest.context_extensions: unknown field of envoy.service.auth.v3.CheckRequest');
    const misspelt = verdict(['explain', '--request', t.write('b.json', { attributes: { request: { http: { ...http, header: { authorization: 'Bearer x' } } } } })], { cwd: t.dir });
    assert.equal(misspelt.code, 2);
    assert.match(misspelt.stderr, /CheckRequest\.attributes\.request\.http\.header: unknown field of envoy\.service\.auth\.v3\.AttributeContext\.HttpRequest$/m);
    // Both field-name forms of proto3 JSON stay accepted.
    const camel = verdict(['explain', '--request', t.write('c.json', { attributes: { request: { http }, contextExtensions: { route: 'status' } } })], { cwd: t.dir });
    assert.equal(camel.code, 0, camel.stderr);
  });
});

describe('verdict serve', () => {
  it('refuses to start on an invalid policy with one line naming file and pointer', () => {
    const t = tempDir();
    t.write('policies/bad.json', { version: 1, routes: [{ id: 'x', allow: { http_path: { matches: '(a)\\1' } } }] });
    const r = verdict(['serve'], { cwd: t.dir, env: { VERDICT_GRPC_LISTEN: '127.0.0.1:0', VERDICT_HTTP_LISTEN: '127.0.0.1:0' } });
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /policies\/bad\.json:\/routes\/0\/allow\/http_path\/matches: unsupported regular expression \(RE2 syntax; no backreferences or lookaround\): invalid escape sequence/);
  });

  it('refuses to start when its address is taken, naming the config key', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await verdictAsyncResult(['serve'], { env: { VERDICT_GRPC_LISTEN: '127.0.0.1:0', VERDICT_HTTP_LISTEN: `127.0.0.1:${port}` } });
      assert.equal(r.code, 2);
      // The address came from the environment variable, so the variable is named.
      assert.equal(r.stderr.trim(), `verdict: refusing to start: VERDICT_HTTP_LISTEN:/http/listen: cannot listen on 127.0.0.1:${port}: EADDRINUSE: the port is taken by another process`);
      // The gRPC port too, in one line: grpc-js's own "No address added" log line is not printed.
      const t = tempDir();
      t.write('policies/p.json', DEMO_POLICY);
      const g = await verdictAsyncResult(['serve', '--config', t.write('v.json', { grpc: { listen: `127.0.0.1:${port}` }, http: { listen: '127.0.0.1:0' } })], { cwd: t.dir });
      assert.equal(g.code, 2);
      assert.equal(g.stderr.trim(), `verdict: refusing to start: v.json:/grpc/listen: cannot listen on 127.0.0.1:${port}: EADDRINUSE: the port is taken by another process`);
    } finally {
      blocker.close();
    }
  });

  it('refuses to start on an invalid config', () => {
    const t = tempDir();
    const r = verdict(['serve', '--config', t.write('v.json', { audit: { sink: 'kafka' } })], { cwd: t.dir });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), /^verdict: refusing to start: v\.json:\/audit\/sink: must be one of \["stdout","file"\]$/);
  });

  it('refuses a config it cannot run with exit 2 and one line naming the setting and the fix', () => {
    const t = tempDir();
    t.write('policies/p.json', DEMO_POLICY);
    const listen = { grpc: { listen: '127.0.0.1:0' }, http: { listen: '127.0.0.1:0' } };
    const refusal = (doc: Record<string, unknown>, env: Record<string, string> = {}) => {
      const r = verdict(['serve', '--config', t.write(`c${Math.random()}.json`.replace('0.', ''), doc)], { cwd: t.dir, env });
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.doesNotMatch(r.stdout, /verdict serving/);
      return lines[0]!.replace(/^verdict: refusing to start: c\d+\.json:/, '');
    };
    assert.match(refusal({ ...listen, grpc: { listn: '127.0.0.1:0' } }), /^\/grpc\/listn: unknown key "listn"; did you mean "listen"\?/);
    assert.match(refusal({ ...listen, http: { listen: 'localhost' } }), /^\/http\/listen: "localhost" is not host:port; write an address and a port, e\.g\. "0\.0\.0\.0:9191"/);
    assert.equal(refusal({ ...listen, policies: { dir: 'no-such-folder' } }), `/policies/dir: cannot read the policy folder ${join(t.dir, 'no-such-folder')}: no such folder (ENOENT); set policies.dir (or VERDICT_POLICIES_DIR) to the folder that holds your *.json policy files`);
    assert.equal(refusal({ ...listen, audit: { sink: 'file', path: 'a.jsonl', signing_key_file: 'missing.pem' } }), `/audit/signing_key_file: cannot read ${join(t.dir, 'missing.pem')}: no such file (ENOENT)`);
    const notKey = t.write('not-a-key.pem', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    assert.match(refusal({ ...listen, identity: { assertion: { key_file: notKey } } }), /^\/identity\/assertion\/key_file: \S*not-a-key\.pem is not a PKCS#8 PEM P-256 private key \(.*\); make one with: openssl genpkey/);
    assert.equal(refusal({ ...listen, identity: { assertion: { key_file: 'gone.pem' } } }), `/identity/assertion/key_file: cannot read ${join(t.dir, 'gone.pem')}: no such file (ENOENT)`);
  });

  it('run outside the checkout, names the default policy folder it looked for', () => {
    const t = tempDir();
    const r = verdict(['serve'], { cwd: t.dir, env: { VERDICT_GRPC_LISTEN: '127.0.0.1:0', VERDICT_HTTP_LISTEN: '127.0.0.1:0' } });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim(), `verdict: refusing to start: (built-in defaults):/policies/dir: cannot read the policy folder ${join(t.dir, 'policies')}: no such folder (ENOENT); set policies.dir (or VERDICT_POLICIES_DIR) to the folder that holds your *.json policy files`);
    const v = verdict(['validate'], { cwd: t.dir, env: { VERDICT_POLICIES_DIR: 'elsewhere' } });
    assert.equal(v.code, 1);
    assert.match(v.stdout, /^VERDICT_POLICIES_DIR:\/policies\/dir: cannot read the policy folder \S*elsewhere: no such folder \(ENOENT\)/m);
  });

  it('serves, then on SIGTERM turns not-ready, finishes, audits shutdown and exits 0', async () => {
    const t = tempDir();
    t.write('policies/p.json', DEMO_POLICY);
    const config = t.write('verdict.json', { grpc: { listen: '127.0.0.1:0' }, http: { listen: '127.0.0.1:0' }, audit: { sink: 'file', path: 'audit.jsonl' } });
    const child = verdictAsync(['serve', '--config', config], { cwd: t.dir });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // The operational log (stderr) says where it listens.
    while (!/verdict serving/.test(stderr)) await once(child.stderr, 'data');
    const line = JSON.parse(stderr.split('\n').find((l) => l.includes('verdict serving'))!);
    const grpcPort = Number(String(line.grpc).split(':').pop());
    const httpPort = Number(String(line.http).split(':').pop());
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status, 200);
    const client = authClient(grpcPort);
    const res = await client.check(envoyCheckRequest({ host: 'status.example.com' }));
    client.close();
    assert.equal(res.status?.code ?? 0, 0);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    assert.match(metrics, /verdict_decisions_total\{route="public",decision="allow",status="200",transport="grpc"\} 1/);
    assert.match(metrics, /verdict_decision_reasons_total\{route="public",decision="allow",reason="accept"\} 1/);
    assert.match(metrics, /verdict_check_duration_seconds_count\{transport="grpc"\} 1/);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    const records = readFileSync(join(t.dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => r['event.action']), ['start', 'authorize', 'shutdown', 'audit.checkpoint'], 'the trail ends sealed by a checkpoint');
    assert.equal(records[2]['verdict.shutdown_reason'], 'SIGTERM');
    // No identity source but a route naming groups: said at start, in the log and the start record.
    const warning = 'no identity source is configured (identity.jwt for bearer tokens, identity.oidc for browser logins): route grafana needs an identity and answers 401 to every request';
    assert.deepEqual(records[0]['verdict.warnings'], [warning]);
    assert.ok(stderr.split('\n').some((l) => l.includes(warning) && l.includes('"level":40')), stderr);
    assert.deepEqual(records.map((r) => r.seq), [1, 2, 3, 4]);
  });
});
