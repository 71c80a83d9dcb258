// `node dist/bench/audit-modes.js [--requests=20000] [--rounds=5] [--modes=sync-disk,sync-os,async]`:
// the audit modes side by side. One Verdict per mode (file sink, same policy, same JWT
// request), all running at once; each round drives every mode in turn with the same h2load
// load, so a busy moment of the shared machine hits all modes alike. Reports per mode the
// median throughput and the CPU time Verdict spent per request (utime + stime from
// /proc/<pid>/stat around each h2load run: a number that does not depend on how fast the
// load generator got the core), and for the main thread its CPU, run-queue wait and wakeups
// (/proc/<pid>/task/<pid>/schedstat and status). BENCH_PROF, BENCH_PERF, BENCH_STRACE: profiles
// and syscall counts of the servers (below). See bench/README.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authClient, envoyCheckRequest } from '../test/helpers/envoy-client.js';
import { checkRequestFrame } from '../test/helpers/grpc-frame.js';
import { startBenchIssuer } from './bench-issuer.js';
import { h2loadResult, requireH2load } from './h2load-result.js';
import { benchPolicy } from './policy.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const REQUESTS = Number(args.get('requests') ?? 20000);
const ROUNDS = Number(args.get('rounds') ?? 5);
const MODES = (args.get('modes') ?? 'sync-disk,sync-os,async').split(',');
const CLIENTS = Number(args.get('clients') ?? 8);
const STREAMS = Number(args.get('streams') ?? 16);
/** `--serial=0`: skip the one-at-a-time runs (profiles of the peak load only). */
const SERIAL = Number(args.get('serial') ?? 2000);

requireH2load();

const dir = mkdtempSync(join(tmpdir(), 'verdict-bench-audit-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill(process.env.BENCH_PROF ? 'SIGTERM' : 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

// A real issuer: JWKS over HTTP on loopback, an RS256 token (bench-issuer.ts).
const { issuer, token, jwks } = await startBenchIssuer();

const request = envoyCheckRequest({ host: 'grafana.example.com', path: '/d/abc/overview?orgId=1', headers: { authorization: `Bearer ${token}` } });
writeFileSync(join(dir, 'body.bin'), checkRequestFrame(request));

/** `sync-disk`, `sync-os`, `async`, `async:5ms` (max_delay), `stdout` (async to /dev/null). */
function auditFor(mode: string): Record<string, unknown> {
  if (mode === 'stdout') return { sink: 'stdout', mode: 'async' };
  const [name, delay] = mode.split(':') as [string, string | undefined];
  const [m, durability] = name.split('-') as [string, string | undefined];
  return { sink: 'file', path: 'audit.jsonl', mode: m, ...(durability ? { durability } : {}), ...(delay ? { max_delay: delay } : {}) };
}

async function startVerdict(mode: string): Promise<{ port: number; pid: number }> {
  const home = join(dir, mode.replace(/[^a-z0-9-]/g, '_'));
  mkdirSync(join(home, 'policies'), { recursive: true });
  writeFileSync(join(home, 'policies/bench.json'), JSON.stringify(benchPolicy()));
  writeFileSync(
    join(home, 'verdict.json'),
    JSON.stringify({
      grpc: { listen: '127.0.0.1:0' },
      http: { listen: '127.0.0.1:0' },
      policies: { dir: 'policies', watch: false },
      audit: auditFor(mode),
      identity: { jwt: [{ issuer, jwks_uri: `${issuer}/jwks`, audiences: ['verdict'], algorithms: ['RS256'] }] },
    }),
  );
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}/${mode.replace(/[^a-z0-9-]/g, '_')}`] : process.env.BENCH_PERF ? ['--perf-basic-prof-only-functions'] : [];
  const child = spawn(process.execPath, [...prof, join(process.cwd(), 'bin/verdict.js'), 'serve', '--config', join(home, 'verdict.json')], { cwd: home, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const m = /"grpc":"[^"]*:(\d+)"/.exec(err);
    if (m) return { port: Number(m[1]), pid: child.pid! };
  }
  throw new Error(`verdict (${mode}) did not start: ${err}`);
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

/** Read and write system calls a process has made so far (/proc/<pid>/io). */
function syscalls(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/syscr: (\d+)/.exec(io)![1]) + Number(/syscw: (\d+)/.exec(io)![1]);
}

/** CPU seconds per thread name (/proc/<pid>/task/<tid>): where the time goes (main, libuv, V8 GC helpers). */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      // Node names its threads poorly (all "node" here): the main thread is the one with the pid.
      const comm = tid === String(pid) ? 'main' : 'other threads';
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(comm, (out.get(comm) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // the thread ended
    }
  }
  return out;
}
const threadTotals = new Map<string, Map<string, number>>();

/**
 * The main thread's scheduling so far: CPU and run-queue wait (ns, /proc/<pid>/task/<pid>/schedstat)
 * and context switches. Voluntary switches are the event loop going to sleep in epoll_wait:
 * one per wakeup, so per decision they say how many decisions each wakeup served.
 */
function mainSched(pid: number): { runNs: number; waitNs: number; voluntary: number; involuntary: number } {
  const [runNs, waitNs] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number) as [number, number];
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  return { runNs, waitNs, voluntary: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)![1]), involuntary: Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)![1]) };
}

/**
 * During every peak run, BENCH_STRACE=<dir>: `strace -c -f` on the server (syscalls by name;
 * distorts CPU: use a separate run); BENCH_PERF=<dir>: `perf record -e task-clock` on the
 * server's main thread, a CPU-time profile (V8's --cpu-prof samples wall time, which on a
 * shared machine includes time spent waiting for a core); the servers then run with
 * --perf-basic-prof so JS functions have names (`perf report -i <file> --sort sym`).
 */
function startAttached(pid: number, label: string): ChildProcess | undefined {
  const out = process.env.BENCH_STRACE ?? process.env.BENCH_PERF;
  if (!out) return undefined;
  mkdirSync(out, { recursive: true });
  const st = process.env.BENCH_STRACE
    ? spawn('strace', ['-c', '-f', '-p', String(pid), '-o', join(out, `${label}.txt`)], { stdio: 'ignore' })
    : spawn('perf', ['record', '-q', '-e', 'task-clock', '-F', '1999', ...(process.env.BENCH_PERF_ARGS ?? '').split(' ').filter(Boolean), '-t', String(pid), '-o', join(out, `${label}.data`)], { stdio: ['ignore', 'ignore', 'inherit'] });
  spawnSync('sleep', ['1']); // attached before the load starts (perf needs longer on a busy machine)
  return st;
}
async function stopAttached(st: ChildProcess | undefined): Promise<void> {
  if (!st) return;
  const done = new Promise((r) => st.once('exit', r));
  st.kill('SIGINT');
  await done;
}

interface Run {
  rps: number;
  syscalls: number;
  p50: number;
  p99: number;
  failed: number;
  cpuUs: number;
  /** Main thread, per decision: wakeups (voluntary switches), preemptions, CPU and run-queue wait µs. */
  wakeups: number;
  preempted: number;
  mainUs: number;
  waitUs: number;
}

function h2load(port: number, pid: number, n: number, clients = CLIENTS, streams = STREAMS): Run {
  const log = join(dir, `h2load-${port}-${Date.now()}.log`);
  const argv = ['-n', String(n), '-c', String(clients), '-m', String(streams), '-d', join(dir, 'body.bin'), '-H', 'content-type: application/grpc', '-H', 'te: trailers', '--log-file', log];
  argv.push(`http://127.0.0.1:${port}/envoy.service.auth.v3.Authorization/Check`);
  const before = cpuSeconds(pid);
  const callsBefore = syscalls(pid);
  const threadsBefore = threadCpu(pid);
  const schedBefore = mainSched(pid);
  const r = spawnSync('h2load', argv, { encoding: 'utf8' });
  if (clients === CLIENTS) {
    const key = String(pid);
    const totals = threadTotals.get(key) ?? new Map<string, number>();
    for (const [name, sec] of threadCpu(pid)) totals.set(name, (totals.get(name) ?? 0) + sec - (threadsBefore.get(name) ?? 0));
    totals.set('(requests)', (totals.get('(requests)') ?? 0) + n);
    threadTotals.set(key, totals);
  }
  const sched = mainSched(pid);
  const cpu = cpuSeconds(pid) - before;
  const calls = syscalls(pid) - callsBefore;
  const { rps, pct, failed } = h2loadResult(r.stdout, log);
  return {
    rps,
    syscalls: calls / n,
    p50: pct(50),
    p99: pct(99),
    failed: failed ?? 0,
    cpuUs: (cpu * 1e6) / n,
    wakeups: (sched.voluntary - schedBefore.voluntary) / n,
    preempted: (sched.involuntary - schedBefore.involuntary) / n,
    mainUs: (sched.runNs - schedBefore.runNs) / 1e3 / n,
    waitUs: (sched.waitNs - schedBefore.waitNs) / 1e3 / n,
  };
}

const servers = new Map<string, { port: number; pid: number }>();
for (const mode of MODES) servers.set(mode, await startVerdict(mode));
for (const [mode, s] of servers) {
  const client = authClient(s.port);
  const answer = await client.check(request);
  client.close();
  if ((answer.status?.code ?? 0) !== 0) throw new Error(`${mode}: bench request is not allowed: ${JSON.stringify(answer.status)}`);
  h2load(s.port, s.pid, 5000); // warm-up
}

const runs = new Map<string, Run[]>(MODES.map((m) => [m, []]));
const serial = new Map<string, Run[]>(MODES.map((m) => [m, []]));
for (let i = 0; i < ROUNDS; i++) {
  // Rotate the order every round: no mode always runs first (or right after another's burst).
  const order = MODES.map((_, k) => MODES[(k + i) % MODES.length]!);
  for (const mode of order) {
    const s = servers.get(mode)!;
    const st = startAttached(s.pid, `${mode.replace(/[^a-z0-9-]/g, '_')}-round${i + 1}`);
    runs.get(mode)!.push(h2load(s.port, s.pid, REQUESTS));
    await stopAttached(st);
    if (SERIAL > 0) serial.get(mode)!.push(h2load(s.port, s.pid, SERIAL, 1, 1));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (x: number, d = 0) => x.toFixed(d);
process.stdout.write(`\nAudit modes side by side: ${REQUESTS} requests × ${ROUNDS} rounds, ${CLIENTS} connections × ${STREAMS} streams, node ${process.version}\n\n`);
process.stdout.write('| mode | rounds (decisions/s) | median decisions/s | CPU µs per decision (median; rounds) | read+write syscalls per decision | peak p99 ms | one at a time p50 / p99 ms | failed |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n');
for (const mode of MODES) {
  const rs = runs.get(mode)!;
  const ss = serial.get(mode)!;
  process.stdout.write(
    `| ${mode} | ${rs.map((r) => f(r.rps)).join(', ')} | ${f(median(rs.map((r) => r.rps)))} | ${f(median(rs.map((r) => r.cpuUs)), 1)}; ${rs.map((r) => f(r.cpuUs)).join(', ')} | ${f(median(rs.map((r) => r.syscalls)), 2)} | ${f(median(rs.map((r) => r.p99)), 1)} | ${ss.length ? `${f(median(ss.map((r) => r.p50)), 3)} / ${f(median(ss.map((r) => r.p99)), 3)}` : '-'} | ${[...rs, ...ss].reduce((n, r) => n + r.failed, 0)} |\n`,
  );
}
process.stdout.write('\nMain thread per decision (peak runs, median; rounds): CPU µs (schedstat) | run-queue wait µs | wakeups (voluntary switches) | preemptions\n');
for (const mode of MODES) {
  const rs = runs.get(mode)!;
  const col = (k: 'mainUs' | 'waitUs' | 'wakeups' | 'preempted', d: number) => `${f(median(rs.map((r) => r[k])), d)}; ${rs.map((r) => f(r[k], d)).join(', ')}`;
  process.stdout.write(`${mode}: ${col('mainUs', 0)} | ${col('waitUs', 0)} | ${col('wakeups', 3)} | ${col('preempted', 3)}\n`);
}
process.stdout.write('\nCPU µs per decision by thread (all peak runs, warm-up included):\n');
for (const [mode, srv] of servers) {
  const t = threadTotals.get(String(srv.pid))!;
  const n = t.get('(requests)')!;
  process.stdout.write(`${mode}: ${[...t].filter(([k]) => k !== '(requests)').sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${f((v * 1e6) / n, 1)}`).join(', ')}\n`);
}
jwks.close();
process.exit(0);
