// `npm run bench`: Verdict and a no-op grpc-js ext_authz server side by side, driven
// by the same h2load load (8 connections × 16 streams, one Envoy-shaped CheckRequest
// with a JWT). Phase 1: peak throughput, alternating rounds. Phase 2: latency of both
// at half the no-op's peak rate. See bench/README.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authPackageDefinition } from '../src/envoy/protos.js';
import { authClient, envoyCheckRequest } from '../test/helpers/envoy-client.js';
import { startBenchIssuer } from './bench-issuer.js';
import { h2loadResult } from './h2load-result.js';
import { benchPolicy } from './policy.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const REQUESTS = Number(args.get('requests') ?? 60000);
const ROUNDS = Number(args.get('rounds') ?? 3);
const CLIENTS = 8;
const STREAMS = 16;

if (spawnSync('h2load', ['--version']).error) {
  process.stderr.write('bench: h2load not found; install it with `apt-get install nghttp2-client`\n');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'verdict-bench-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill(process.env.BENCH_PROF ? 'SIGTERM' : 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

// A real issuer: JWKS over HTTP on loopback, an RS256 token (bench-issuer.ts).
const { issuer, token, jwks } = await startBenchIssuer();

mkdirSync(join(dir, 'policies'));
writeFileSync(join(dir, 'policies/bench.json'), JSON.stringify(benchPolicy()));
const sink = args.get('audit') ?? 'file';
const mode = args.get('mode') ?? (sink === 'file' ? 'sync' : 'async');
writeFileSync(
  join(dir, 'verdict.json'),
  JSON.stringify({
    grpc: { listen: '127.0.0.1:0' },
    http: { listen: '127.0.0.1:0' },
    policies: { dir: 'policies', watch: false },
    audit: sink === 'file' ? { sink: 'file', path: 'audit.jsonl', mode } : { sink: 'stdout', mode },
    ...(args.has('metadata') ? { response: { dynamic_metadata: args.get('metadata')!.split(',').filter(Boolean) } } : {}),
    identity: { jwt: [{ issuer, jwks_uri: `${issuer}/jwks`, audiences: ['verdict'], algorithms: ['RS256'] }] },
  }),
);

// The request body: a gRPC frame around an Envoy-shaped CheckRequest.
const request = envoyCheckRequest({ host: 'grafana.example.com', path: '/d/abc/overview?orgId=1', headers: { authorization: `Bearer ${token}` } });
const def = authPackageDefinition()['envoy.service.auth.v3.Authorization'] as unknown as { Check: { requestSerialize(v: unknown): Buffer } };
const message = def.Check.requestSerialize(request);
const frame = Buffer.alloc(5 + message.length);
frame.writeUInt32BE(message.length, 1);
message.copy(frame, 5);
writeFileSync(join(dir, 'body.bin'), frame);

async function startVerdict(): Promise<number> {
  const child = spawn(process.execPath, [...(process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []), join(process.cwd(), 'bin/verdict.js'), 'serve', '--config', join(dir, 'verdict.json')], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) process.stderr.write(`verdict exited ${code}: ${err}\n`);
  });
  // The operational log on stderr names the bound port.
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const m = /"grpc":"[^"]*:(\d+)"/.exec(err);
    if (m) {
      pids.set(Number(m[1]), child.pid!);
      return Number(m[1]);
    }
  }
  throw new Error(`verdict did not start: ${err}`);
}

async function startNoop(): Promise<number> {
  const child = spawn(process.execPath, [join(process.cwd(), 'dist/bench/noop-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(/listening (\d+)/.exec(data.toString())![1]);
  pids.set(port, child.pid!);
  return port;
}

interface Run {
  rps: number;
  /** CPU (user + system) of the server process per completed request, µs. */
  cpuUs: number;
  p50: number;
  p99: number;
  ok: number;
  failed: number;
}

/** utime + stime of a process, in µs (from /proc; clock ticks are 1/100 s on Linux). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10000;
}

const pids = new Map<number, number>();

function h2load(port: number, n: number, rpsPerClient?: number, clients = CLIENTS, streams = STREAMS): Run {
  const log = join(dir, `h2load-${port}-${Date.now()}.log`);
  const argv = ['-n', String(n), '-c', String(clients), '-m', String(streams), '-d', join(dir, 'body.bin'), '-H', 'content-type: application/grpc', '-H', 'te: trailers', '--log-file', log];
  if (rpsPerClient !== undefined) argv.push('--rps', String(rpsPerClient));
  argv.push(`http://127.0.0.1:${port}/envoy.service.auth.v3.Authorization/Check`);
  const pid = pids.get(port)!;
  const cpuBefore = cpuMicros(pid);
  const r = spawnSync('h2load', argv, { encoding: 'utf8' });
  const cpu = cpuMicros(pid) - cpuBefore;
  const { rps, pct, succeeded, failed } = h2loadResult(r.stdout, log);
  const ok = succeeded ?? 0;
  return { rps, cpuUs: cpu / Math.max(1, ok), p50: pct(50), p99: pct(99), ok, failed: failed ?? 0 };
}

const verdictPort = await startVerdict();
const noopPort = await startNoop();

// Correctness first: the benchmarked request must be an allow with the JWT identity.
const client = authClient(verdictPort);
const answer = await client.check(request);
client.close();
if ((answer.status?.code ?? 0) !== 0) throw new Error(`bench request is not allowed: ${JSON.stringify(answer.status)}`);

// Warm-up (JIT, token cache, connection setup).
h2load(verdictPort, 10000);
h2load(noopPort, 10000);

const peak = { verdict: [] as Run[], noop: [] as Run[] };
for (let i = 0; i < ROUNDS; i++) {
  peak.noop.push(h2load(noopPort, REQUESTS));
  peak.verdict.push(h2load(verdictPort, REQUESTS));
}
const median = (runs: Run[], k: keyof Run) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
const noopPeak = median(peak.noop, 'rps');
const verdictPeak = median(peak.verdict, 'rps');

const half = Math.max(1, Math.floor(noopPeak / 2 / CLIENTS));
const rateN = Math.min(REQUESTS, half * CLIENTS * 8);
const atHalf = { noop: h2load(noopPort, rateN, half), verdict: h2load(verdictPort, rateN, half) };
// One request at a time: the service time itself, without queueing behind other streams.
const serial = { noop: h2load(noopPort, 5000, undefined, 1, 1), verdict: h2load(verdictPort, 5000, undefined, 1, 1) };

const f = (x: number, d = 0) => x.toFixed(d);
const rows = [
  ['', 'no-op grpc-js', 'Verdict', 'ratio'],
  ['peak decisions/s (median of rounds)', f(noopPeak), f(verdictPeak), f(verdictPeak / noopPeak, 2)],
  ['CPU µs per decision at peak (median of rounds)', f(median(peak.noop, 'cpuUs')), f(median(peak.verdict, 'cpuUs')), f(median(peak.noop, 'cpuUs') / median(peak.verdict, 'cpuUs'), 2)],
  ['peak p50 ms', f(median(peak.noop, 'p50'), 2), f(median(peak.verdict, 'p50'), 2), ''],
  ['peak p99 ms', f(median(peak.noop, 'p99'), 2), f(median(peak.verdict, 'p99'), 2), ''],
  [`at ${half * CLIENTS}/s (half the no-op peak): achieved/s`, f(atHalf.noop.rps), f(atHalf.verdict.rps), ''],
  ['  p50 ms', f(atHalf.noop.p50, 2), f(atHalf.verdict.p50, 2), ''],
  ['  p99 ms', f(atHalf.noop.p99, 2), f(atHalf.verdict.p99, 2), ''],
  ['one at a time (1 connection × 1 stream): req/s', f(serial.noop.rps), f(serial.verdict.rps), ''],
  ['  p50 ms', f(serial.noop.p50, 3), f(serial.verdict.p50, 3), ''],
  ['  p99 ms', f(serial.noop.p99, 3), f(serial.verdict.p99, 3), ''],
  ['failed requests (all runs)', String([...peak.noop, atHalf.noop, serial.noop].reduce((s, r) => s + r.failed, 0)), String([...peak.verdict, atHalf.verdict, serial.verdict].reduce((s, r) => s + r.failed, 0)), ''],
];
process.stdout.write(`\nVerdict bench: ${REQUESTS} requests × ${ROUNDS} rounds, ${CLIENTS} connections × ${STREAMS} streams, audit sink ${sink} (${mode}), node ${process.version}\n`);
process.stdout.write(`rounds (no-op / Verdict req/s): ${peak.noop.map((r, i) => `${f(r.rps)} / ${f(peak.verdict[i]!.rps)}`).join(', ')}\n`);
process.stdout.write(`rounds (no-op / Verdict CPU µs per decision): ${peak.noop.map((r, i) => `${f(r.cpuUs)} / ${f(peak.verdict[i]!.cpuUs)}`).join(', ')}\n`);
// Per round, no-op CPU / Verdict CPU: the throughput ratio Verdict would reach with a core of its own.
const cpuRatios = peak.noop.map((r, i) => r.cpuUs / peak.verdict[i]!.cpuUs).sort((a, b) => a - b);
process.stdout.write(`CPU-per-decision ratio (no-op / Verdict) by round: ${cpuRatios.map((x) => f(x, 2)).join(', ')}; median ${f(cpuRatios[Math.floor(cpuRatios.length / 2)]!, 2)}\n\n`);
for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
jwks.close();
process.exit(0);
