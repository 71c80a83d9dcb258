import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { TestIssuer } from '../helpers/idp.js';
import { tempDir } from '../helpers/tmp.js';

const counter = (metrics: string, re: RegExp) => Number(re.exec(metrics)?.[1] ?? 0);
const SHED = /^verdict_verifications_shed_total (\d+)/m;
const MISSES = /^verdict_token_cache_total\{result="miss"\} (\d+)/m;
const LATE = /^verdict_late_answers_total\{transport="grpc"\} (\d+)/m;

interface Flood {
  outcomes: Record<string, number>;
  ids: Record<string, [string, number][]>;
  lastMs: number;
  clientLagMs: number;
}

/** The calls from their own process (as Envoy's are), each token carried by several calls at once. */
async function flood(port: number, count: number, deadlineMs: number, tokensFile: string, copies: number): Promise<Flood> {
  const argv = [join(import.meta.dirname, '../helpers/check-flood.js'), String(port), String(count), String(deadlineMs), '10', tokensFile, 'ids', String(copies)];
  // Higher priority where allowed (Envoy has cores of its own); `nice` warns and runs it as is otherwise.
  const child = existsSync('/usr/bin/nice') ? spawn('/usr/bin/nice', ['-n', '-10', process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    if (!/cannot set niceness/.test(d.toString())) process.stderr.write(d);
  });
  await new Promise((r) => child.on('close', r));
  return JSON.parse(out) as Flood;
}

describe('load shedding at a cold start (identity.verify_concurrency, real issuer keys, real gRPC calls)', () => {
  let idp: TestIssuer;
  let t: TestApp;

  before(async () => {
    idp = await TestIssuer.start(['ES256', 'RS256']);
    // One verification at a time: a burst of distinct tokens is far more work than fits in a deadline.
    // Records to the page cache (durability os): this test is about verification, and an fdatasync
    // per group commit on a shared disk would put the audit's latency into every answer.
    t = await startTestApp({ 'demo.json': DEMO_POLICY }, { audit: { sink: 'file', path: 'audit.jsonl', durability: 'os' }, identity: { verify_concurrency: 1, jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256', 'RS256'] }] } });
  });
  after(async () => {
    await t.app.stop();
    await idp.close();
  });

  it('checks that cannot be verified in time are answered 503 overloaded early (metric, audit, same id), never allowed; each token verified once; service resumes', async () => {
    // The keys are fetched once before (as after any first request): the burst is all verification.
    const client = authClient(t.app.grpcPort);
    after(() => client.close());
    assert.ok((await client.check(envoyCheckRequest({ headers: { authorization: `Bearer ${await idp.token({ sub: 'warm', groups: ['sre'] })}` } }), 5000)).ok_response);
    // 400 distinct tokens (ES256 and RS256, all valid for the route), plus 40 with a broken
    // signature, each carried by two of 880 calls sent at once with a 5 s deadline.
    const good = await Promise.all(Array.from({ length: 400 }, (_, i) => idp.token({ sub: `user-${i}`, groups: ['sre'] }, { kid: i % 2 ? 'rs256-1' : 'es256-1' })));
    const forged = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const [h, p, s] = (await idp.token({ sub: `mallory-${i}`, groups: ['sre'] })).split('.') as [string, string, string];
        return `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
      }),
    );
    const tokens = [...good, ...forged];
    const isForged = (i: number) => i >= good.length;
    const dir = tempDir();
    const m0 = await t.app.metrics.registry.metrics();
    const r = await flood(t.app.grpcPort, tokens.length * 2, 5000, dir.write('tokens.json', tokens), 2);
    const m1 = await t.app.metrics.registry.metrics();
    console.log(`# shedding burst: ${JSON.stringify({ outcomes: r.outcomes, firstMs: (r as unknown as { firstMs: number }).firstMs, lastMs: r.lastMs, clientLagMs: r.clientLagMs })}`);

    // Every call answered in time by the client's clock, and only with these outcomes.
    const by = (prefix: string) => Object.entries(r.ids).flatMap(([k, v]) => (k.startsWith(prefix) ? v : []));
    const allowed = by('200 ');
    const shed = r.ids['503 overloaded'] ?? [];
    const invalid = by('401 ');
    const late = r.ids['503 internal-error'] ?? [];
    assert.deepEqual(Object.keys(r.outcomes).filter((k) => !/^(200 |401 |503 overloaded$|503 internal-error$)/.test(k)), [], 'no DEADLINE_EXCEEDED, nothing unexpected');
    assert.ok(shed.length > 0, 'the burst is more than one verification at a time can do: some checks are shed');
    assert.ok(allowed.length > 0, 'and the rest are verified and allowed');
    // Never an allow without a verified token: no forged token is allowed, and shed ones are not either.
    assert.deepEqual(allowed.filter(([, i]) => isForged(i)), [], 'no forged token allowed');
    assert.equal(invalid.filter(([, i]) => !isForged(i)).length, 0, 'a valid token is never refused as invalid');
    // Each distinct token was verified at most once, however many calls carried it: its two calls
    // are read together and the second joins the first's verification, or finds it cached. (A
    // shed token's later call may try again, and be shed again at no cost: a miss, not a verification.)
    const verifications = counter(m1, MISSES) - counter(m0, MISSES) - (counter(m1, SHED) - counter(m0, SHED));
    assert.ok(verifications <= tokens.length, `${verifications} verifications for ${tokens.length} distinct tokens`);
    // Shed answers come early, not at the deadline, and the metric counts the shed verifications.
    const shedTokens = new Set(shed.map(([, i]) => i));
    const shedCount = counter(m1, SHED) - counter(m0, SHED);
    assert.ok(shedCount >= shedTokens.size && shedCount <= shed.length, `verdict_verifications_shed_total (${shedCount}) counts the shed verifications (${shedTokens.size} tokens, ${shed.length} answers)`);
    assert.equal(counter(m1, LATE) - counter(m0, LATE), 0, 'no answer ready after its deadline');
    console.log(`# allowed ${allowed.length}, shed ${shed.length} (${shedTokens.size} tokens, metric ${shedCount}), invalid ${invalid.length}, deadline ${late.length}, verifications ${verifications}`);

    // The audit record of each answer has its id and says the same.
    const total = Object.values(r.outcomes).reduce((a, b) => a + b, 0);
    const recordOf = new Map<string, Record<string, unknown>>();
    const end = Date.now() + 10_000;
    while (recordOf.size < total && Date.now() < end) {
      for (const rec of t.records()) if (typeof rec['verdict.decision_id'] === 'string') recordOf.set(rec['verdict.decision_id'], rec);
      if (recordOf.size < total) await new Promise((res) => setTimeout(res, 50));
    }
    for (const [id] of shed) {
      const rec = recordOf.get(id);
      assert.ok(rec, `record of shed decision ${id}`);
      assert.equal(rec['verdict.decision'], 'deny');
      assert.equal(rec['http.response.status_code'], 503);
      assert.deepEqual(rec['verdict.reasons'], ['overloaded']);
    }
    for (const [id] of allowed) assert.equal(recordOf.get(id)?.['verdict.decision'], 'allow');

    // After the burst: normal service, a fresh token is verified and allowed.
    const fresh = await idp.token({ sub: 'after-the-burst', groups: ['sre'] });
    const a = await client.check(envoyCheckRequest({ headers: { authorization: `Bearer ${fresh}` } }), 2000);
    assert.ok(a.ok_response, 'a fresh check after the burst is allowed');
  });
});
