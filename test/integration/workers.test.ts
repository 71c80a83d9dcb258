import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY } from '../helpers/app.js';
import { verdictAsync, verdictAsyncResult } from '../helpers/cli.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { TestIssuer } from '../helpers/idp.js';
import { startRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/tmp.js';
import { hasTool, requireTool } from '../helpers/tools.js';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

/**
 * Bound of a start (the primary and N workers, or one restarted worker). Each process loads
 * every module before it serves, ~0.85 s of CPU (a bare `import` of the CLI), ~1.2 s with the
 * app's set-up: the primary and two workers ~3.5 s of CPU. Measured 3.5-6 s wall at load ~7
 * on two cores; at load 18 a process gets about a ninth of a core, ~30 s, which is where the
 * earlier 30 s bound failed. 60 s fits a load of ~30; an unloaded run still takes ~4 s.
 */
const START_MS = 60_000;

/** Polls `cond` every 25 ms for at most `ms` (machine load varies; no fixed sleeps). */
async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function serveWorkers(config: string, cwd: string, workers: number) {
  const child = verdictAsync(['serve', '--config', config, '--workers', String(workers)], { cwd });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  await until(() => {
    if (child.exitCode !== null) throw new Error(stderr);
    return /verdict serving/.test(stderr);
  }, START_MS, 'a worker serving');
  const line = JSON.parse(stderr.split('\n').find((l) => l.includes('verdict serving'))!) as { grpc: string; http: string };
  const grpcPort = Number(line.grpc.split(':').pop());
  const httpPort = Number(line.http.split(':').pop());
  // undefined: no answer (a connection to a worker just killed fails; that is not a dip).
  const readyz = async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.status;
  const ready = async () => (await readyz()) === 200;
  return { child, grpcPort, httpPort, ready, readyz, exited, stderr: () => stderr };
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('serve --workers N', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let idp: TestIssuer;
  let t: ReturnType<typeof tempDir>;
  let config = '';
  before(async () => {
    if (!hasTool('redis-server')) return;
    redis = await startRedis();
    idp = await TestIssuer.start(['ES256']);
    t = tempDir();
    t.write('policies/p.json', DEMO_POLICY);
    config = t.write('verdict.json', {
      grpc: { listen: '127.0.0.1:0' },
      http: { listen: '127.0.0.1:0' },
      audit: { sink: 'file', path: 'audit.jsonl', checkpoint_every: 100 },
      identity: { jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] }], session: { store: { type: 'redis', url: redis.url } } },
      admin: { tokens: [{ name: 'ops', token: ADMIN_TOKEN }] },
    });
  });
  let running: { kill(): void } | undefined;
  after(async () => {
    // A failed assertion leaves the server up: stop it first (its JWKS connections hold the IdP open).
    running?.kill();
    await redis?.stop();
    await idp?.close();
  });

  it('refuses a memory session store with more than one worker, naming the setting', async (ctx) => {
    if (!requireTool(ctx, 'redis-server', 'apt-get install redis-server')) return;
    const c = t.write('memory.json', { grpc: { listen: '127.0.0.1:0' }, http: { listen: '127.0.0.1:0' }, audit: { sink: 'file', path: 'm.jsonl' } });
    const r = await verdictAsyncResult(['serve', '--config', c, '--workers', '2'], { cwd: t.dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /refusing to start: .*memory\.json:\/identity\/session\/store\/type: workers: 2 needs the redis session store/);
    assert.deepEqual(readdirSync(t.dir).filter((f) => f.startsWith('m.')), [], 'nothing written');
  });

  it('shares suspensions, restarts a killed worker (audited, counted, readiness dips), and stops cleanly with one sealed chain per worker', async (ctx) => {
    if (!requireTool(ctx, 'redis-server', 'apt-get install redis-server')) return;
    const s = await serveWorkers(config, t.dir, 2);
    running = { kill: () => s.child.kill('SIGKILL') };
    await until(s.ready, START_MS, 'both workers serving');
    const token = await idp.token({ sub: 'alice', groups: ['sre'] });
    const req = envoyCheckRequest({ host: 'grafana.example.com', headers: { authorization: `Bearer ${token}` } });
    // Each client is a new connection: the primary hands connections to workers in turn.
    const status = async () => {
      const c = authClient(s.grpcPort);
      try {
        const r = await c.check(req);
        return r.status?.code === 0 ? 200 : r.denied_response!.status!.code;
      } finally {
        c.close();
      }
    };
    // Load on both workers.
    const several = async (n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push(await status());
      return out;
    };
    const before = await several(16);
    assert.ok(before.every((c) => c === 200), String(before));

    // Suspended through the admin API of whichever worker takes it: denied by every worker.
    const admin = await fetch(`http://127.0.0.1:${s.httpPort}/admin/v1/users/suspend?subject=alice`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(admin.status, 200);
    const denied = await several(8);
    assert.deepEqual(denied, Array(8).fill(401));

    // /metrics from any worker sums every worker's registry: all 16 + 8 gRPC checks, whichever worker answered.
    const summed = async () => {
      const m = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
      return [...m.matchAll(/^verdict_decisions_total\{[^}]*transport="grpc"\} (\d+)$/gm)].reduce((a, x) => a + Number(x[1]), 0);
    };
    assert.equal(await summed(), 24);
    assert.equal(await summed(), 24, 'the same sum whichever worker serves /metrics');

    // kill -9 one worker: readiness dips, the primary restarts it, readiness comes back.
    const pids = [...s.stderr().matchAll(/"msg":"worker serving"[^\n]*/g)].map((m) => m[0]);
    const pidLine = s.stderr().split('\n').find((l) => l.includes('"worker serving"') && l.includes('"worker":2'))!;
    assert.ok(pidLine, pids.join('\n'));
    const pid = (JSON.parse(pidLine) as { pid: number }).pid;
    process.kill(pid, 'SIGKILL');
    // The dip lasts until the restarted worker serves (its whole start): a poll finds it. Only a
    // 503 from a live worker counts: a failed fetch on the killed worker's connection, followed
    // by a 200 from the other worker before the primary's news reached it, is not the dip.
    await until(async () => (await s.readyz()) === 503, START_MS, 'readiness to dip');
    await until(s.ready, START_MS, 'readiness back after the restart');
    const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
    assert.match(metrics, /^verdict_worker_restarts_total\{worker="2"\} 1$/m);
    assert.match(metrics, /^verdict_workers_serving 2$/m);
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0, s.stderr());

    const files = readdirSync(t.dir).filter((f) => /^audit\.w\d+\.jsonl$/.test(f)).sort();
    assert.deepEqual(files, ['audit.w1.jsonl', 'audit.w2.jsonl']);
    const w1 = lines(join(t.dir, files[0]!));
    const w2 = lines(join(t.dir, files[1]!));
    for (const recs of [w1, w2]) {
      assert.equal(recs.at(-1)!['event.action'], 'audit.checkpoint', 'sealed');
      assert.ok(recs.some((r) => (r['verdict.reasons'] as string[] | undefined)?.includes('user-suspended')), 'this worker denied the suspended user');
    }
    const restart = w2.find((r) => r['event.action'] === 'worker-restarted');
    assert.ok(restart, 'restart audited in the restarted worker chain');
    assert.equal(restart['verdict.worker_exit_signal'], 'SIGKILL');
    assert.equal(restart['verdict.recorded_by'], 'restarted-worker');
    assert.equal(w1.filter((r) => r['event.action'] === 'shutdown').length, 1);

    // One trail: each chain verified on its own (the killed one continues its chain), reported together.
    const v = await verdictAsyncResult(['audit', 'verify', join(t.dir, 'audit.w1.jsonl'), join(t.dir, 'audit.w2.jsonl')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /worker 1: intact/);
    assert.match(v.stdout, /worker 2: intact/);
    // Query reads the set as one trail ordered by time.
    const q = await verdictAsyncResult(['audit', 'query', join(t.dir, 'audit.w1.jsonl'), join(t.dir, 'audit.w2.jsonl'), '--reason', 'user-suspended']);
    const rows = q.stdout.trim().split('\n').map((l) => JSON.parse(l) as { time: string });
    assert.equal(rows.length, 8);
    assert.deepEqual(rows.map((r) => r.time), rows.map((r) => r.time).sort());
  });
  it('outlives workers that die together: no crash on a message to a dead worker, both restarted, a clean stop', async (ctx) => {
    if (!requireTool(ctx, 'redis-server', 'apt-get install redis-server')) return;
    const s = await serveWorkers(config, t.dir, 2);
    running = { kill: () => s.child.kill('SIGKILL') };
    await until(s.ready, START_MS, 'both workers serving');
    const logged = (msg: string) => [...s.stderr().matchAll(/^\{.*\}$/gm)].map((m) => JSON.parse(m[0]) as { msg: string; pid: number; http: string }).filter((l) => l.msg === msg);
    // With every worker gone the primary closes the shared listeners; the restarted workers
    // bind again, and `:0` (this test's config) is then a new port: the log line names it.
    const readyNow = async () => {
      const http = logged('verdict serving').at(-1)!.http;
      return (await fetch(`http://${http}/readyz`).catch(() => undefined))?.status === 200;
    };
    // Each death makes the primary tell the other worker, which may be dead too but not yet
    // seen as disconnected: that send fails (EPIPE) and must not take the primary down.
    for (let round = 1; round <= 3; round++) {
      for (const { pid } of logged('worker serving').slice(-2)) process.kill(pid, 'SIGKILL');
      await until(() => logged('worker serving').length >= 2 * (round + 1), START_MS, `both workers restarted (round ${round})`);
      await until(readyNow, START_MS, `ready after round ${round}`);
      assert.equal(s.child.exitCode, null, s.stderr());
    }
    assert.doesNotMatch(s.stderr(), /Unhandled|EPIPE|ERR_IPC/, s.stderr());
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0, s.stderr());
  });
});
