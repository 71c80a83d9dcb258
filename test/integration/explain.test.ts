import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTestApp } from '../helpers/app.js';
import { verdictAsyncResult } from '../helpers/cli.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/nginx.js';
import { SignJWT, generateKeyPair } from 'jose';

// The repository's example policies (policies/): grafana (sre or boss; never DELETE), admin (admins, tailnet, office hours, fresh login), …
const POLICIES = join(process.cwd(), 'policies');
const request = (host: string, route?: string, time = '2026-11-23T10:00:00Z', method = 'GET') => ({
  attributes: {
    source: { address: { socketAddress: { address: '100.101.1.2', portValue: 51234 } } },
    request: { time, http: { method, headers: { ':authority': host, ':method': method, ':path': '/d/1', ':scheme': 'https' }, path: '/d/1', host, scheme: 'https', protocol: 'HTTP/2' } },
    ...(route ? { contextExtensions: { route } } : {}),
  },
});

describe('verdict explain: why was I denied', () => {
  const t = tempDir();
  const config = t.write('verdict.json', { policies: { dir: POLICIES } });
  const bob = JSON.stringify({ sub: 'bob', email: 'bob@example.com', groups: ['dev'] });

  it('an asserted identity without iss comes from the first default issuer, so a configured IdP does not turn it into issuer-untrusted', async () => {
    const withIdp = t.write('with-idp.json', { policies: { dir: POLICIES }, identity: { jwt: [{ issuer: 'https://idp.example.com', jwks_uri: 'https://idp.example.com/jwks', audiences: ['verdict'] }] } });
    const req = t.write('grafana-sre.json', request('grafana.example.com'));
    const sre = JSON.stringify({ sub: 'alice', groups: ['sre'] });
    const [asserted, partner] = await Promise.all([
      verdictAsyncResult(['explain', '--config', withIdp, '--request', req, '--identity', sre]),
      verdictAsyncResult(['explain', '--config', withIdp, '--request', req, '--identity', JSON.stringify({ sub: 'alice', groups: ['sre'], iss: 'https://partner.example' })]),
    ]);
    assert.equal(asserted.code, 0, asserted.stderr);
    const r = JSON.parse(asserted.stdout);
    assert.deepEqual([r.decision, r.status, r.reasons, r.identity.issuer], ['allow', 200, ['groups-ok'], 'https://idp.example.com']);
    // An explicit iss is kept: the route trusts only the default issuer.
    const p = JSON.parse(partner.stdout);
    assert.deepEqual([p.decision, p.status, p.identity.issuer], ['deny', 401, 'https://partner.example']);
  });

  it('traces every route and each criterion of the deciding one, with an asserted identity marked as such (json and text)', async () => {
    const req = t.write('grafana.json', request('grafana.example.com'));
    const [json, text] = await Promise.all([
      verdictAsyncResult(['explain', '--config', config, '--request', req, '--identity', bob]),
      verdictAsyncResult(['explain', '--config', config, '--request', req, '--identity', bob, '--format', 'text']),
    ]);
    assert.equal(json.code, 0, json.stderr);
    const r = JSON.parse(json.stdout);
    assert.deepEqual([r.decision, r.status, r.route, r.reasons], ['deny', 403, 'grafana', ['groups-unauthorized', 'email-unauthorized']]);
    assert.deepEqual(r.identity, { source: 'asserted', asserted: true, method: 'jwt', issuer: 'asserted', user: 'bob', email: 'bob@example.com', groups: ['dev'] });
    assert.equal(r.now_source, "the request's own time");
    const selected = r.trace.routes.filter((x: { selected: boolean }) => x.selected);
    assert.deepEqual(selected.map((x: { id: string }) => x.id), ['grafana']);
    assert.match(r.trace.routes.find((x: { id: string }) => x.id === 'api').why, /^no match: hosts \["api\.example\.com","\*\.api\.example\.com"\] does not accept "grafana\.example\.com"/);
    assert.deepEqual(
      r.trace.rules.map((c: { pointer: string; input?: unknown; outcome: string }) => [c.pointer.replace(/^\/routes\/\d+\//, ''), c.input, c.outcome]),
      [
        ['deny/http_method', 'GET', 'false'],
        ['allow/or', undefined, 'false'],
        ['allow/or/0/groups', ['dev'], 'false'],
        ['allow/or/1/email', 'bob@example.com', 'false'],
      ],
    );
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^decision: DENY 403 on route grafana — reasons: groups-unauthorized, email-unauthorized$/m);
    assert.match(text.stdout, /^identity: ASSERTED with --identity \(not verified\): bob <bob@example\.com>/m);
    assert.match(text.stdout, /^ {2}→ grafana +selected: the first route in policy order/m);
    assert.match(text.stdout, /^ {2}allow\/or\/0\/groups \{"has":"sre"\}: read \["dev"\] → false \(groups-unauthorized\)$/m);
  });

  it('--now replaces the request time: office hours decide the admin route; a deny that matched leaves allow unevaluated', async () => {
    const admin = JSON.stringify({ sub: 'ann', groups: ['admins'], auth_time: Date.parse('2026-11-23T09:00:00Z') / 1000 });
    const req = t.write('admin.json', request('admin.example.com', 'admin'));
    const del = t.write('delete.json', request('grafana.example.com', 'grafana', '2026-11-23T10:00:00Z', 'DELETE'));
    const [day, night, denied] = await Promise.all([
      verdictAsyncResult(['explain', '--config', config, '--request', req, '--identity', admin]),
      verdictAsyncResult(['explain', '--config', config, '--request', req, '--identity', admin, '--now', '2026-11-23T21:30:00Z']),
      verdictAsyncResult(['explain', '--config', config, '--request', del, '--identity', JSON.stringify({ sub: 'sam', groups: ['sre'] })]),
    ]);
    const d = JSON.parse(day.stdout);
    const n = JSON.parse(night.stdout);
    assert.equal(d.decision, 'allow', day.stdout);
    assert.equal(n.decision, 'deny', night.stdout);
    assert.equal(n.now_source, '--now');
    const tod = n.trace.rules.find((c: { rule: string }) => c.rule === 'time_of_day');
    assert.deepEqual([tod.input, tod.outcome], ['2026-11-23T21:30:00.000Z', 'false']);
    assert.match(n.trace.routes.find((x: { id: string }) => x.id === 'grafana').why, /^not considered: Envoy bound the request to route "admin"/);
    const x = JSON.parse(denied.stdout);
    assert.deepEqual([x.status, x.reasons], [403, ['http-method-ok']]);
    assert.deepEqual(
      x.trace.rules.map((c: { rule: string; outcome: string }) => [c.rule, c.outcome]),
      [['http_method', 'true'], ['or', 'not evaluated'], ['groups', 'not evaluated'], ['email', 'not evaluated']],
    );
  });

  it('re-explains a recorded decision from its audit record (--decision-id ID --audit FILE)', async () => {
    const app = await startTestApp({ 'apps.json': JSON.parse(readFileSync(join(POLICIES, 'apps.json'), 'utf8')) });
    const client = authClient(app.app.grpcPort);
    const res = await client.check(envoyCheckRequest({ host: 'grafana.example.com', path: '/d/x' }));
    const id = res.dynamic_metadata!.fields!.decision_id!.stringValue!;
    client.close();
    await app.app.stop();
    const cfg = join(app.dir, 'verdict.json');
    const [again, asBob, missing] = await Promise.all([
      verdictAsyncResult(['explain', '--config', cfg, '--decision-id', id, '--audit', app.auditPath, '--format', 'text']),
      verdictAsyncResult(['explain', '--config', cfg, '--decision-id', id, '--audit', app.auditPath, '--identity', bob]),
      verdictAsyncResult(['explain', '--config', cfg, '--decision-id', '00000000-0000-4000-8000-000000000000', '--audit', app.auditPath]),
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^decision: DENY 302 on route grafana — reasons: user-unauthenticated$|^decision: DENY 401 on route grafana — reasons: user-unauthenticated$/m);
    assert.match(again.stdout, /^recorded: DENY 40\d .*the policy in force decides the same$/m);
    assert.match(again.stdout, /^ {2}allow\/or\/0\/groups \{"has":"sre"\}: read null → unknown \(user-unauthenticated\)$/m);
    const b = JSON.parse(asBob.stdout);
    assert.deepEqual([b.status, b.identity.asserted, b.same_as_recorded], [403, true, false]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no decision record with this id/);
  });

  it('refuses unclear input: no request, unknown format, a bad identity', async () => {
    const req = t.write('r.json', request('grafana.example.com'));
    const runs = await Promise.all([
      verdictAsyncResult(['explain', '--config', config]),
      verdictAsyncResult(['explain', '--config', config, '--request', req, '--format', 'yaml']),
      verdictAsyncResult(['explain', '--config', config, '--request', req, '--identity', '{"groups":["sre"]}']),
      verdictAsyncResult(['explain', '--config', config, '--decision-id', 'x']),
    ]);
    for (const r of runs) assert.equal(r.code, 2, r.stdout);
    assert.match(runs[0]!.stderr, /give --request FILE, or --decision-id ID with --audit FILE/);
    assert.match(runs[1]!.stderr, /--format "yaml" is not one of: text, json/);
    assert.match(runs[2]!.stderr, /--identity: needs "sub"/);
    assert.match(runs[3]!.stderr, /--decision-id needs the trail/);
  });

  it('an unreachable JWKS: explain answers exactly as serve does for the same request (one shared identity path)', async () => {
    const issuer = 'https://idp.example.com';
    const port = await freePort(); // nothing listens: the JWKS cannot be fetched
    const identity = { jwt: [{ issuer, jwks_uri: `http://127.0.0.1:${port}/jwks.json`, audiences: ['verdict'], algorithms: ['ES256'], jwks_timeout: '1s' }] };
    const app = await startTestApp({ 'apps.json': JSON.parse(readFileSync(join(POLICIES, 'apps.json'), 'utf8')) }, { identity });
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ groups: ['sre'] }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(issuer).setSubject('alice').setAudience('verdict').setIssuedAt().setExpirationTime('5m').sign(privateKey);
    const init = { host: 'grafana.example.com', path: '/d/x', headers: { authorization: `Bearer ${token}` } };
    const client = authClient(app.app.grpcPort);
    const res = await client.check(envoyCheckRequest(init));
    client.close();
    await app.app.stop();
    const served = app.records().find((r) => r['event.action'] === 'authorize')!;
    const req = t.write('jwks-down.json', envoyCheckRequest(init));
    const x = await verdictAsyncResult(['explain', '--config', join(app.dir, 'verdict.json'), '--request', req]);
    assert.equal(x.code, 0, x.stderr);
    const e = JSON.parse(x.stdout);
    assert.deepEqual([e.status, e.reasons], [served['http.response.status_code'], served['verdict.reasons']], `serve answered ${JSON.stringify(res.denied_response?.status)}`);
    assert.equal(e.decision, 'deny');
  });
});
