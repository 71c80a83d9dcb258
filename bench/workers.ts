// `node dist/bench/workers.js [--workers=N] [--requests=40000] [--rounds=5]`: one Verdict with
// `--workers 1` and one with `--workers N` (default: the cores), same policy, token and
// h2load load as `npm run bench`, alternating rounds in one run. Redis (the store workers > 1
// need) is Debian's redis-server on a free loopback port. Beside them, one `--workers 1` with the
// memory store (what a one-process deployment runs), so the store's share is visible.
// --durability=disk|os sets audit.durability for all. See bench/README.md#workers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { envoyCheckRequest } from '../test/helpers/envoy-client.js';
import { startRedis } from '../test/helpers/redis.js';
import { checkRequestFrame } from '../test/helpers/grpc-frame.js';
import { startBenchIssuer } from './bench-issuer.js';
import { requireH2load } from './h2load-result.js';
import { benchPolicy } from './policy.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const REQUESTS = Number(args.get('requests') ?? 40000);
const ROUNDS = Number(args.get('rounds') ?? 5);
const N = Number(args.get('workers') ?? availableParallelism());
const DURABILITY = args.get('durability') ?? 'disk';

requireH2load();
const dir = mkdtempSync(join(tmpdir(), 'verdict-bench-workers-'));
const children: ChildProcess[] = [];
const redis = await startRedis();
process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

// A real issuer: JWKS over HTTP on loopback, an RS256 token (bench-issuer.ts).
const { issuer, token, jwks } = await startBenchIssuer();

mkdirSync(join(dir, 'policies'));
writeFileSync(join(dir, 'policies/bench.json'), JSON.stringify(benchPolicy()));
const config = (name: string, store: 'redis' | 'memory') => {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({
    grpc: { listen: '127.0.0.1:0' },
    http: { listen: '127.0.0.1:0' },
    policies: { dir: 'policies', watch: false },
    audit: { sink: 'file', path: `${name}/audit.jsonl`, durability: DURABILITY },
    identity: { jwt: [{ issuer, jwks_uri: `${issuer}/jwks`, audiences: ['verdict'], algorithms: ['RS256'] }], ...(store === 'redis' ? { session: { store: { type: 'redis', url: redis.url, prefix: `${name}:` } } } : {}) },
  }));
  return file;
};

const request = envoyCheckRequest({ host: 'grafana.example.com', path: '/d/abc/overview?orgId=1', headers: { authorization: `Bearer ${token}` } });
writeFileSync(join(dir, 'body.bin'), checkRequestFrame(request));

async function serve(workers: number, store: 'redis' | 'memory' = 'redis'): Promise<number> {
  const child = spawn(process.execPath, [join(process.cwd(), 'bin/verdict.js'), 'serve', '--config', config(`w${workers}-${store}`, store), '--workers', String(workers)], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const m = /"http":"[^"]*:(\d+)"/.exec(err);
    const g = /"grpc":"[^"]*:(\d+)"/.exec(err);
    if (m && g && (await fetch(`http://127.0.0.1:${m[1]}/readyz`).then((r) => r.ok, () => false))) return Number(g[1]);
  }
  throw new Error(`verdict --workers ${workers} did not become ready: ${err}`);
}

function h2load(port: number, n: number): { rps: number; failed: number } {
  const r = spawnSync('h2load', ['-n', String(n), '-c', '8', '-m', '16', '-d', join(dir, 'body.bin'), '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://127.0.0.1:${port}/envoy.service.auth.v3.Authorization/Check`], { encoding: 'utf8' });
  const m = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(r.stdout);
  return { rps: Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(r.stdout)?.[1] ?? NaN), failed: Number(m?.[2] ?? NaN) };
}

const loadAtStart = loadavg().map((x) => x.toFixed(2)).join(' ');
const mem = await serve(1, 'memory');
const one = await serve(1);
const many = await serve(N);
for (const port of [mem, one, many]) h2load(port, 10000);
const runs = { mem: [] as number[], one: [] as number[], many: [] as number[] };
let failed = 0;
for (let i = 0; i < ROUNDS; i++) {
  // The order rotates each round, so a busy moment of the shared machine hits each in turn.
  const order = [['mem', mem], ['one', one], ['many', many]] as const;
  for (let j = 0; j < order.length; j++) {
    const [k, port] = order[(i + j) % order.length]!;
    const r = h2load(port, REQUESTS);
    runs[k].push(r.rps);
    failed += r.failed;
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (x: number) => x.toFixed(0);
const load = loadavg().map((x) => x.toFixed(2)).join(' ');
process.stdout.write(`\nworkers bench: ${REQUESTS} requests × ${ROUNDS} rotating rounds, 8 connections × 16 streams, audit file (sync, durability ${DURABILITY}), node ${process.version}, ${availableParallelism()} cores, load average ${loadAtStart} at start, ${load} at end\n`);
process.stdout.write(`rounds (1 worker memory store / 1 worker redis / ${N} workers redis, req/s): ${runs.one.map((r, i) => `${f(runs.mem[i]!)} / ${f(r)} / ${f(runs.many[i]!)}`).join(', ')}\n\n`);
process.stdout.write(`| | 1 worker, memory store | 1 worker, Redis store | ${N} workers, Redis store | ${N} / 1 (Redis) |\n| --- | --- | --- | --- | --- |\n| peak decisions/s (median) | ${f(median(runs.mem))} | ${f(median(runs.one))} | ${f(median(runs.many))} | ${(median(runs.many) / median(runs.one)).toFixed(2)} |\n| failed requests (all runs) | | | ${failed} | |\n`);
jwks.close();
await redis.stop();
process.exit(0);
