import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadPolicyDir } from '../../src/policy-store/policy-store.js';
import { startTestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';

async function until(ok: () => boolean, boundMs: number, what: string): Promise<void> {
  const end = Date.now() + boundMs;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`${what}: not within ${boundMs} ms`);
    await sleep(10);
  }
}

const version = (allow: unknown) => ({ version: 1, routes: [{ id: 'app', match: { hosts: ['app.example.com'] }, allow }] });
const OPEN = version({ accept: true });
const CLOSED = version({ http_method: 'POST' });

describe('hot reload while requests flow', () => {
  it('swaps whole policy sets atomically, keeps the old set on a broken file, fails no request', async () => {
    const t = await startTestApp({ 'app.json': OPEN });
    const file = join(t.policiesDir, 'app.json');
    // Write like editors and ConfigMaps do: a new file renamed into place.
    const put = (doc: unknown) => {
      writeFileSync(`${file}.tmp`, typeof doc === 'string' ? doc : JSON.stringify(doc));
      renameSync(`${file}.tmp`, file);
    };
    const expected = new Map<string, number>([[t.app.policies.current.hash, 200]]);
    const client = authClient(t.app.grpcPort);
    let running = true;
    let sent = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (running) {
        try {
          const res = await client.check(envoyCheckRequest({ host: 'app.example.com' }));
          sent++;
          const status = res.status?.code === 0 ? 200 : Number(res.denied_response?.status?.code);
          if (status !== 200 && status !== 403) failures.push(`status ${status}`);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    try {
      for (let i = 0; i < 6; i++) {
        const doc = i % 2 === 0 ? CLOSED : OPEN;
        put(doc);
        const hash = loadPolicyDir(t.policiesDir).hash;
        expected.set(hash, doc === OPEN ? 200 : 403);
        // Reload reads and parses on a worker thread: poll for the swap, with a bound.
        await until(() => t.app.policies.current.hash === hash, 10_000, `reload ${i} took effect`);
      }
      const before = t.app.policies.current.hash;
      put('{"version": 1, "routes": [ { "id": "app", "allow": { "nope": true } } ] }');
      const rejectedOnce = async () => /result="rejected"} 1/.test(await t.app.metrics.registry.getSingleMetricAsString('verdict_policy_reloads_total'));
      const end = Date.now() + 10_000;
      while (!(await rejectedOnce())) {
        if (Date.now() > end) assert.fail('the broken file was not rejected within 10 s');
        await sleep(10);
      }
      assert.equal(t.app.policies.current.hash, before, 'a broken file does not take effect');
      await until(() => sent > 100, 10_000, 'requests kept flowing');
    } finally {
      running = false;
      await Promise.all(workers);
      client.close();
      await t.app.stop();
    }
    assert.deepEqual(failures, []);
    assert.ok(sent > 100, `requests kept flowing (${sent})`);

    const records = t.records();
    const decisions = records.filter((r) => r['event.action'] === 'authorize');
    assert.equal(decisions.length, sent, 'every decision audited');
    for (const d of decisions) {
      const want = expected.get(String(d['verdict.policy_hash']));
      assert.ok(want !== undefined, `decision under a known policy set (${String(d['verdict.policy_hash'])})`);
      assert.equal(d['http.response.status_code'], want, 'decision matches the set it names');
    }
    const statuses = new Set(decisions.map((d) => d['http.response.status_code']));
    assert.deepEqual([...statuses].sort(), [200, 403], 'both sets served');
    const accepted = records.filter((r) => r['event.action'] === 'policy-reload');
    const rejected = records.filter((r) => r['event.action'] === 'policy-reload-rejected');
    assert.ok(accepted.length >= 6, `reloads audited (${accepted.length})`);
    assert.ok(accepted.some((r) => (r['verdict.routes_changed'] as string[]).includes('app')));
    assert.equal(rejected.length, 1);
    assert.match(String((rejected[0]!['verdict.problems'] as string[])[0]), /app\.json:\/routes\/0\/allow\/nope: unknown key "nope"/);
    assert.equal(rejected[0]!['log.level'], 'warn');
    const metrics = await t.app.metrics.registry.getSingleMetricAsString('verdict_policy_reloads_total');
    assert.match(metrics, /result="rejected"} 1/);
  });
});
