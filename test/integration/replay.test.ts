import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { verdictAsyncResult } from '../helpers/cli.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { TestIssuer } from '../helpers/idp.js';
import { tempDir } from '../helpers/tmp.js';

const route = (id: string, host: string, rules: Record<string, unknown>) => ({ id, match: { hosts: [host] }, ...rules });
const V1 = {
  version: 1,
  routes: [
    route('grafana', 'grafana.example.com', { allow: { groups: { has: 'sre' } }, deny: { http_method: { in: ['DELETE'] } } }),
    route('wiki', 'wiki.example.com', { allow: { claim: { name: 'dept', has: 'eng' } } }),
    route('api', 'api.example.com', { allow: { header: { name: 'x-team', is: 'red' } } }),
    route('status', 'status.example.com', { allow: { accept: true }, shadow: { allow: { groups: { has: 'sre' } } } }),
  ],
};
// The change under review: dev may use grafana, the api wants team blue, wiki asks a claim no
// record holds, and a new route for a host nobody could reach.
const V2 = {
  version: 1,
  routes: [
    route('grafana', 'grafana.example.com', { allow: { groups: { has_any: ['sre', 'dev'] } }, deny: { http_method: { in: ['DELETE'] } } }),
    route('wiki', 'wiki.example.com', { allow: { and: [{ claim: { name: 'dept', has: 'eng' } }, { claim: { name: 'level', has: 'senior' } }] } }),
    route('api', 'api.example.com', { allow: { header: { name: 'x-team', is: 'blue' } } }),
    route('status', 'status.example.com', { allow: { accept: true } }),
    route('new', 'new.example.com', { allow: { accept: true } }),
  ],
};

interface Json {
  records: number;
  replayed: number;
  unchanged: number;
  flipped: number;
  undecidable: number;
  skipped: Record<string, number>;
  changes: { route: string; change: string; count: number; users: number; examples: { decision_id: string; user: string | null; old: { reasons: string[] }; new: { reasons: string[] } }[] }[];
  undecidable_facts: { fact: string; count: number }[];
}

describe('verdict replay against audit trails written by verdict serve', () => {
  let issuer: TestIssuer;
  const work = tempDir();
  const files: string[] = [];
  let redactedFile = '';
  const sent = { bobGrafana: 0, redApi: 0, wiki: 0 };

  async function record(app: TestApp): Promise<void> {
    const client = authClient(app.app.grpcPort);
    const alice = await issuer.token({ sub: 'alice', groups: ['sre'], dept: 'eng' });
    const bob = await issuer.token({ sub: 'bob', groups: ['dev'], dept: 'sales' });
    const ask = (host: string, headers: Record<string, string> = {}, method = 'GET', route?: string) => client.check(envoyCheckRequest({ host, headers, method, route }));
    for (let i = 0; i < 3; i++) {
      await ask('grafana.example.com', { authorization: `Bearer ${alice}` });
      await ask('grafana.example.com', { authorization: `Bearer ${bob}` });
      sent.bobGrafana++;
      await ask('grafana.example.com', { authorization: `Bearer ${alice}` }, 'DELETE');
      await ask('wiki.example.com', { authorization: `Bearer ${alice}` });
      await ask('wiki.example.com', { authorization: `Bearer ${bob}` });
      sent.wiki += 2;
      await ask('api.example.com', { 'x-team': 'red' });
      sent.redApi++;
      await ask('api.example.com', { 'x-team': 'green' });
      await ask('status.example.com', {}, 'GET', 'status');
      await ask('grafana.example.com');
      await ask('nowhere.example.com');
      await ask('grafana.example.com', { authorization: 'Bearer not-a-token' });
    }
    client.close();
    await app.app.stop();
  }

  before(async () => {
    issuer = await TestIssuer.start(['ES256']);
    const identity = { jwt: [{ issuer: issuer.issuer, jwks_uri: issuer.jwksUri, audiences: ['verdict'] }] };
    // Small files: the trail rotates several times; replay reads the rotated files in order.
    const t = await startTestApp({ 'p.json': V1 }, { identity, audit: { sink: 'file', path: 'audit.jsonl', rotate_bytes: 6000, include_headers: ['x-team'] } });
    await record(t);
    const rotated = readdirSync(t.dir).filter((n) => /^audit\..+\.jsonl$/.test(n)).sort();
    assert.ok(rotated.length >= 2, `rotated files: ${rotated.join(', ')}`);
    // Retention's compress action leaves gzip files: the oldest is read compressed.
    const gz = join(t.dir, `${rotated[0]}.gz`);
    writeFileSync(gz, gzipSync(readFileSync(join(t.dir, rotated[0]!))));
    rmSync(join(t.dir, rotated[0]!));
    files.push(gz, ...rotated.slice(1).map((n) => join(t.dir, n)), t.auditPath);
    t.records(); // every record on schema, no secrets

    const r = await startTestApp({ 'p.json': V1 }, { identity, audit: { sink: 'file', path: 'audit.jsonl', redact: ['user.roles'] } });
    const client = authClient(r.app.grpcPort);
    await client.check(envoyCheckRequest({ host: 'grafana.example.com', headers: { authorization: `Bearer ${await issuer.token({ sub: 'carol', groups: ['sre'] })}` } }));
    await client.check(envoyCheckRequest({ host: 'status.example.com' }));
    client.close();
    await r.app.stop();
    redactedFile = r.auditPath;

    work.write('v1/p.json', V1);
    work.write('v2/p.json', V2);
  });
  after(() => issuer.close());

  const run = async (policies: string, inputs: string[], extra: string[] = []) => {
    const r = await verdictAsyncResult(['replay', '--policies', join(work.dir, policies), '--format', 'json', ...extra, ...inputs]);
    return { code: r.code, stderr: r.stderr, json: r.stdout ? (JSON.parse(r.stdout) as Json) : undefined };
  };

  it('the policy that wrote the trail decides every record the same way: exit 0', async () => {
    const { code, json, stderr } = await run('v1', files);
    assert.equal(code, 0, stderr);
    assert.equal(json!.flipped, 0);
    assert.deepEqual(json!.changes, []);
    assert.equal(json!.undecidable, 0);
    assert.equal(json!.unchanged, json!.replayed);
    assert.ok(json!.replayed >= 30, `replayed ${json!.replayed}`);
    assert.ok(json!.skipped['control-plane']! >= 2, 'start, shutdown and checkpoint records are skipped');
  });

  it('reports who gains and who loses access, by route, with examples: exit 1', async () => {
    const { code, json, stderr } = await run('v2', files);
    assert.equal(code, 1, stderr);
    const group = (routeId: string, change: string) => json!.changes.find((g) => g.route === routeId && g.change === change);
    const gains = group('grafana', 'deny → allow')!;
    assert.equal(gains.count, sent.bobGrafana);
    assert.equal(gains.users, 1);
    assert.equal(gains.examples[0]!.user, 'bob');
    assert.deepEqual(gains.examples[0]!.new.reasons, ['groups-ok']);
    const loses = group('api', 'allow → deny')!;
    assert.equal(loses.count, sent.redApi);
    assert.equal(json!.flipped, sent.bobGrafana + sent.redApi);
    // The recorded routes bind requests Envoy routed by id the same way.
    assert.equal(group('status', 'allow → deny'), undefined);
    // wiki now reads a claim no record holds: counted, named, never guessed.
    const level = json!.undecidable_facts.find((f) => f.fact.startsWith('claim level'))!;
    assert.equal(level.count, sent.wiki);
    assert.equal(group('wiki', 'allow → deny'), undefined);
  });

  it('text output: a table for the pull request', async () => {
    const r = await verdictAsyncResult(['replay', '--policies', join(work.dir, 'v2'), ...files]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^\| grafana \| deny → allow \| 3 \| 1 \|$/m);
    assert.match(r.stdout, /^\| api \| allow → deny \| 3 \| 1 \|$/m);
    assert.match(r.stdout, /undecidable/);
  });

  it('a redacted fact the policy reads makes the record undecidable, naming it', async () => {
    const { code, json } = await run('v1', [redactedFile]);
    assert.equal(code, 0);
    assert.equal(json!.undecidable, 1);
    assert.deepEqual(json!.undecidable_facts.map((f) => f.fact), ['user.roles (redacted)']);
    assert.equal(json!.replayed, 1, 'the public route reads no redacted fact');
  });

  it('unreadable input is exit 2 with the place named', async () => {
    const missing = await run('v1', [join(work.dir, 'missing.jsonl')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /ENOENT/);
    const bad = work.write('bad.jsonl', '{"event.action":"authorize"}\nnot json\n');
    const broken = await run('v1', [bad]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /bad\.jsonl:2: not a JSON record/);
    assert.equal((await run('v1', [])).code, 2);
    assert.equal((await run('v1', files, ['--examples', 'x'])).code, 2);
  });
});
