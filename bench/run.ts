// `npm run bench`: Verdict and a no-op grpc-js ext_authz server side by side, driven
// by the same h2load load (8 connections × 16 streams, one Envoy-shaped CheckRequest
// with a JWT). Phase 1: peak throughput, alternating rounds. Phase 2: latency of both
// at half the no-op's peak rate. See bench/README.md.
//
// --durability=disk|os|disk,os: audit.durability of Verdict's file sink (default: the config
//   default, disk); with both, one Verdict per durability, measured side by side.
// --baseline=DIR: a second Verdict, started from another build (DIR/bin/verdict.js, e.g. a copy of
//   the tree at an older commit), same config, alternated with the others in the peak rounds and
//   measured one at a time: before/after numbers from one run. --baseline-node-options=FLAGS:
//   NODE_OPTIONS of the baseline Verdicts only (--baseline=. compares one build with two settings).
// BENCH_PROF=DIR: a CPU profile of the whole Verdict process; BENCH_PROF_PEAK=DIR: of every
//   server (the no-op too) over the peak rounds only (bench/prof-on-signal.ts, SIGUSR2 around them).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { authClient, envoyCheckRequest } from '../test/helpers/envoy-client.js';
import { checkRequestFrame } from '../test/helpers/grpc-frame.js';
import { startBenchIssuer } from './bench-issuer.js';
import { h2loadResult, requireH2load } from './h2load-result.js';
import { benchPolicy } from './policy.js';

// --name=value (split at the first `=`: values may hold one, like --baseline-node-options).
const args = new Map(process.argv.slice(2).flatMap((a) => { const m = /^--([^=]+)(?:=(.*))?$/s.exec(a); return m ? [[m[1]!, m[2]!] as [string, string]] : []; }));
const REQUESTS = Number(args.get('requests') ?? 60000);
const ROUNDS = Number(args.get('rounds') ?? 3);
const CLIENTS = 8;
const STREAMS = 16;

requireH2load();

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
const durabilities: (string | undefined)[] = args.get('durability')?.split(',') ?? [undefined];
const baselineDir = args.has('baseline') ? resolve(args.get('baseline')!) : undefined;
// Node/V8 flags for the baseline Verdicts only (e.g. the same build with another heap setting).
const baselineNodeOptions = args.get('baseline-node-options');
/** One Verdict's config; each Verdict (this build, --baseline) writes its own audit file. */
function writeConfig(name: string, durability: string | undefined): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      grpc: { listen: '127.0.0.1:0' },
      http: { listen: '127.0.0.1:0' },
      policies: { dir: 'policies', watch: false },
      audit: sink === 'file' ? { sink: 'file', path: `${name}-audit.jsonl`, mode, ...(durability ? { durability } : {}) } : { sink: 'stdout', mode },
      ...(args.has('metadata') ? { response: { dynamic_metadata: args.get('metadata')!.split(',').filter(Boolean) } } : {}),
      identity: { jwt: [{ issuer, jwks_uri: `${issuer}/jwks`, audiences: ['verdict'], algorithms: ['RS256'] }] },
    }),
  );
  return file;
}

// The request body: a gRPC frame around an Envoy-shaped CheckRequest.
const request = envoyCheckRequest({ host: 'grafana.example.com', path: '/d/abc/overview?orgId=1', headers: { authorization: `Bearer ${token}` } });
writeFileSync(join(dir, 'body.bin'), checkRequestFrame(request));

const peakProf = process.env.BENCH_PROF_PEAK;
const loadAtStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** `tree`: the checkout whose build runs (its bin/verdict.js). */
async function startVerdict(name: string, durability: string | undefined, tree = process.cwd(), nodeOptions?: string): Promise<number> {
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : peakProf ? ['--import', join(process.cwd(), 'dist/bench/prof-on-signal.js')] : [];
  const child = spawn(process.execPath, [...prof, join(tree, 'bin/verdict.js'), 'serve', '--config', writeConfig(name, durability)], {
    cwd: dir,
    env: { ...process.env, ...(peakProf ? { BENCH_PROF_DIR: peakProf } : {}), ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
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
  const prof = peakProf ? ['--import', join(process.cwd(), 'dist/bench/prof-on-signal.js')] : [];
  const child = spawn(process.execPath, [...prof, join(process.cwd(), 'dist/bench/noop-server.js')], { stdio: ['ignore', 'pipe', 'inherit'], env: peakProf ? { ...process.env, BENCH_PROF_DIR: peakProf } : process.env });
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

/** The Verdicts measured: this build, and the --baseline build, for each durability asked for. */
interface Variant {
  readonly name: string;
  readonly port: number;
  readonly peak: Run[];
  atHalf?: Run;
  serial?: Run;
}
const variants: Variant[] = [];
for (const [tree, label] of baselineDir ? ([[process.cwd(), 'Verdict'], [baselineDir, 'baseline']] as const) : ([[process.cwd(), 'Verdict']] as const)) {
  for (const d of durabilities) {
    const name = `${label}${d ? `-${d}` : ''}`;
    variants.push({ name, port: await startVerdict(name, d, tree, label === 'baseline' ? baselineNodeOptions : undefined), peak: [] });
  }
}
const noopPort = await startNoop();

// Correctness first: the benchmarked request must be an allow with the JWT identity.
for (const v of variants) {
  const client = authClient(v.port);
  const answer = await client.check(request);
  client.close();
  if ((answer.status?.code ?? 0) !== 0) throw new Error(`bench request is not allowed by ${v.name}: ${JSON.stringify(answer.status)}`);
}

// Warm-up (JIT, token cache, connection setup).
for (const v of variants) h2load(v.port, 10000);
h2load(noopPort, 10000);

/** Signals the profiler preload of each server (BENCH_PROF_PEAK): on before the peak rounds, off after. */
const toggleProfile = () => {
  if (!peakProf) return;
  for (const port of [...variants.map((v) => v.port), noopPort]) process.kill(pids.get(port)!, 'SIGUSR2');
};

const noop: Run[] = [];
toggleProfile();
for (let i = 0; i < ROUNDS; i++) {
  noop.push(h2load(noopPort, REQUESTS));
  // The order of the Verdicts rotates each round, so none always runs right after the no-op.
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(i + k) % variants.length]!;
    v.peak.push(h2load(v.port, REQUESTS));
  }
}
toggleProfile();
const median = (runs: Run[], k: keyof Run) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const noopPeak = median(noop, 'rps');

const half = Math.max(1, Math.floor(noopPeak / 2 / CLIENTS));
const rateN = Math.min(REQUESTS, half * CLIENTS * 8);
const noopHalf = h2load(noopPort, rateN, half);
for (const v of variants) v.atHalf = h2load(v.port, rateN, half);
// One request at a time: the service time itself, without queueing behind other streams.
const noopSerial = h2load(noopPort, 5000, undefined, 1, 1);
for (const v of variants) v.serial = h2load(v.port, 5000, undefined, 1, 1);

const f = (x: number, d = 0) => x.toFixed(d);
const failed = (runs: (Run | undefined)[]) => String(runs.reduce((s, r) => s + (r?.failed ?? 0), 0));
const col = (g: (v: Variant) => string) => variants.map(g);
const rows: string[][] = [
  ['', 'no-op grpc-js', ...col((v) => v.name)],
  ['peak decisions/s (median of rounds)', f(noopPeak), ...col((v) => f(median(v.peak, 'rps')))],
  // Per round, this Verdict's throughput over the no-op's of the same round.
  ['  throughput ratio to the no-op (median of per-round ratios)', '', ...col((v) => f(med(v.peak.map((r, i) => r.rps / noop[i]!.rps)), 2))],
  ['CPU µs per decision at peak, all threads (median of rounds)', f(median(noop, 'cpuUs')), ...col((v) => f(median(v.peak, 'cpuUs')))],
  // Per round, no-op CPU / this CPU: the throughput ratio this Verdict would reach with a core of its own.
  ['  CPU ratio, no-op / this (median of per-round ratios)', '', ...col((v) => f(med(v.peak.map((r, i) => noop[i]!.cpuUs / r.cpuUs)), 2))],
  ['peak p50 ms', f(median(noop, 'p50'), 2), ...col((v) => f(median(v.peak, 'p50'), 2))],
  ['peak p99 ms', f(median(noop, 'p99'), 2), ...col((v) => f(median(v.peak, 'p99'), 2))],
  [`at ${half * CLIENTS}/s (half the no-op peak): achieved/s`, f(noopHalf.rps), ...col((v) => f(v.atHalf!.rps))],
  ['  p50 ms', f(noopHalf.p50, 2), ...col((v) => f(v.atHalf!.p50, 2))],
  ['  p99 ms', f(noopHalf.p99, 2), ...col((v) => f(v.atHalf!.p99, 2))],
  ['one at a time (1 connection × 1 stream): req/s', f(noopSerial.rps), ...col((v) => f(v.serial!.rps))],
  ['  p50 ms', f(noopSerial.p50, 3), ...col((v) => f(v.serial!.p50, 3))],
  ['  p99 ms', f(noopSerial.p99, 3), ...col((v) => f(v.serial!.p99, 3))],
  ['failed requests (all runs)', failed([...noop, noopHalf, noopSerial]), ...col((v) => failed([...v.peak, v.atHalf, v.serial]))],
];
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
process.stdout.write(
  `\nVerdict bench: ${REQUESTS} requests × ${ROUNDS} rounds, ${CLIENTS} connections × ${STREAMS} streams, audit sink ${sink} (${mode}), node ${process.version}, load average ${loadAtStart} at start, ${load} at end${baselineDir ? `; baseline = ${baselineDir}` : ''}\n`,
);
for (const v of variants) {
  process.stdout.write(`rounds, ${v.name} (no-op / this): req/s ${noop.map((r, i) => `${f(r.rps)} / ${f(v.peak[i]!.rps)}`).join(', ')}; CPU µs ${noop.map((r, i) => `${f(r.cpuUs)} / ${f(v.peak[i]!.cpuUs)}`).join(', ')}\n`);
}
process.stdout.write('\n');
for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
jwks.close();
process.exit(0);
