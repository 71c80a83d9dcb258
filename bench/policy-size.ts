// `node dist/bench/policy-size.js [--sizes=10,100,1000,10000]`: what policy size costs.
// For each size: `verdict validate` (wall, a new process), the compile alone (in-process),
// `verdict serve` start → /readyz 200, RSS after start (and above an empty policy), a
// SIGHUP reload with /healthz and gRPC Check probed all through it from a separate small
// process (reload-probe.ts; the longest answer), the audit file written without fdatasync
// (`durability: os`, so a Check's answer time is the server's, not the disk's),
// and the per-decision cost of the first route, the last route and no route, beside the
// linear scan the index replaced. See bench/README.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicy } from '../src/policy/compile-policy.js';
import { evaluate } from '../src/policy/evaluate.js';
import type { CompiledRoute, PolicySet } from '../src/policy/policy-set.js';
import { loadPolicyDir } from '../src/policy-store/policy-store.js';
import { PolicyParser, compileSliced, loadPolicyDirOffThread } from '../src/policy-store/load-off-thread.js';
import type { RequestFacts } from '../src/request/facts.js';

interface ProbeResult {
  longestHealthz: number;
  longestCheck: number;
  healthz: number;
  checks: number;
  failures: number;
  statuses: Record<string, number>;
  proberLongestDelay: number;
}
import { sizePolicy, sizeRequests } from './size-policy.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const SIZES = (args.get('sizes') ?? '10,100,1000,10000').split(',').map(Number);
const root = mkdtempSync(join(tmpdir(), 'verdict-size-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});
const bin = join(process.cwd(), 'bin/verdict.js');

function folder(n: number): string {
  const dir = join(root, `n${n}`);
  mkdirSync(join(dir, 'policies'), { recursive: true });
  writeFileSync(join(dir, 'policies/app.json'), JSON.stringify(sizePolicy(n)));
  writeFileSync(join(dir, 'verdict.json'), JSON.stringify({ grpc: { listen: '127.0.0.1:0' }, http: { listen: '127.0.0.1:0' }, policies: { dir: 'policies', watch: false, allow_empty: n === 0 }, audit: { sink: 'file', path: 'audit.jsonl', durability: 'os' } }));
  return dir;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** CPU seconds (user + system) a process has used so far. */
const cpuS = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function serve(dir: string): Promise<{ child: ChildProcess; startMs: number; startCpu: number; http: number; grpc: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, 'serve', '--config', join(dir, 'verdict.json')], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  for (;;) {
    const m = /"grpc":"[^"]*:(\d+)","http":"[^"]*:(\d+)"/.exec(err);
    if (m) {
      const http = Number(m[2]);
      while ((await get(http, '/readyz')).status !== 200) await sleep(5);
      return { child, startMs: performance.now() - t0, startCpu: cpuS(child.pid!), http, grpc: Number(m[1]) };
    }
    if (child.exitCode !== null) throw new Error(`verdict did not start: ${err}`);
    if (performance.now() - t0 > 600_000) throw new Error('verdict did not start within 10 minutes');
    await sleep(5);
  }
}

async function reloadUnderProbes(s: { child: ChildProcess; http: number; grpc: number }, dir: string, n: number): Promise<{ reloadMs: number; reloadCpu: number; idleLongest: number; longestHealthz: number; longestCheck: number; probes: number; proberStall: number }> {
  // A real change: route 0 gets another group.
  const doc = sizePolicy(n) as { routes: { allow: unknown }[] };
  doc.routes[0]!.allow = { groups: { has: 'reloaded' } };
  writeFileSync(join(dir, 'policies/app.json'), JSON.stringify(doc));
  // The probes run in a small process of their own (reload-probe.ts): this one holds a
  // compiled policy of the same size and its garbage, and its own pauses are not the server's.
  const last = sizeRequests(n).last;
  const prober = spawn(process.execPath, [join(process.cwd(), 'dist/bench/reload-probe.js'), `--http=${s.http}`, `--grpc=${s.grpc}`, `--host=${last.host}`, `--path=${last.path}`], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(prober);
  const lines = createInterface({ input: prober.stdout! })[Symbol.asyncIterator]();
  const probeFor = async (during: () => Promise<unknown>): Promise<ProbeResult> => {
    prober.stdin!.write('start\n');
    await during();
    prober.stdin!.write('stop\n');
    return JSON.parse((await lines.next()).value as string) as ProbeResult;
  };
  const accepted = async () => /verdict_policy_reloads_total\{result="accepted"\} 1/.test((await get(s.http, '/metrics')).body);
  // First the same probes for a second without a reload: this machine's own stalls.
  await probeFor(() => sleep(300)); // connections made, code warm
  const idle = await probeFor(() => sleep(1000));
  process.stderr.write(`  ${n} routes, probes without a reload: ${JSON.stringify(idle)}\n`);
  let reloadMs = 0;
  let reloadCpu = 0;
  const during = await probeFor(async () => {
    await sleep(50);
    const t0 = performance.now();
    const cpu0 = cpuS(s.child.pid!);
    s.child.kill('SIGHUP');
    while (!(await accepted())) await sleep(10);
    reloadMs = performance.now() - t0;
    reloadCpu = cpuS(s.child.pid!) - cpu0;
  });
  prober.stdin!.end();
  process.stderr.write(`  ${n} routes, probes during the reload: ${JSON.stringify(during)}\n`);
  if (during.failures > 0) throw new Error(`probes failed during the reload: ${JSON.stringify(during.statuses)}`);
  const idleLongest = Math.max(idle.longestHealthz, idle.longestCheck);
  return { reloadMs, reloadCpu, idleLongest, longestHealthz: during.longestHealthz, longestCheck: during.longestCheck, probes: during.healthz + during.checks, proberStall: during.proberLongestDelay };
}

/**
 * The same reload in this process: the longest gap between two turns of the event loop
 * (a 1 ms timer) while it runs, beside the longest gap over the same time without it.
 * Fewer moving parts than the probes over HTTP and gRPC, the same stalls of the machine.
 */
async function inProcessGaps(dir: string): Promise<{ reload: number; reloadCpu: number; compile: number; compileCpu: number; idle: number; idleCpu: number }> {
  const parser = new PolicyParser();
  await loadPolicyDirOffThread(join(dir, 'policies'), parser); // warm the worker
  // The longest gap, and the most CPU the process (all its threads: an upper bound for the
  // serving thread) used in any one gap: on a shared machine a long gap with little CPU was
  // spent waiting for a core, and the CPU is what the reload itself blocked.
  const watchGaps = async (work: () => Promise<unknown>) => {
    let last = performance.now();
    let lastCpu = process.cpuUsage();
    let longest = 0;
    let longestCpu = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      const cpu = process.cpuUsage();
      longest = Math.max(longest, now - last);
      longestCpu = Math.max(longestCpu, (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000);
      last = now;
      lastCpu = cpu;
    }, 1);
    await work();
    clearInterval(timer);
    return { longest, longestCpu };
  };
  // The whole reload (the worker's parse included: its thread's CPU counts in the gaps then),
  // and the compile alone, when the serving thread is the only one at work.
  let took = 0;
  let files: Awaited<ReturnType<PolicyParser['parse']>> = [];
  const reload = await watchGaps(async () => {
    const t0 = performance.now();
    files = await parser.parse(join(dir, 'policies'));
    await compileSliced(files);
    took = performance.now() - t0;
  });
  const compile = await watchGaps(() => compileSliced(files));
  const idle = await watchGaps(() => sleep(took));
  parser.close();
  return { reload: reload.longest, reloadCpu: reload.longestCpu, compile: compile.longest, compileCpu: compile.longestCpu, idle: idle.longest, idleCpu: idle.longestCpu };
}

function linearFirstMatch(policy: PolicySet, f: RequestFacts): CompiledRoute | undefined {
  for (const r of policy.routes) if (r.match !== undefined && r.match(f)) return r;
  return undefined;
}

/** µs per call, measured for ~300 ms after a warm-up (2,000 calls or 200 ms). */
function perCall(fn: () => unknown): number {
  const w = performance.now();
  for (let i = 0; i < 2000 && performance.now() - w < 200; i++) fn();
  let calls = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < 300) {
    for (let i = 0; i < 200; i++) fn();
    calls += 200;
    t = performance.now();
  }
  return ((t - t0) * 1000) / calls;
}

function facts(r: { host: string; path: string }): RequestFacts {
  return { method: 'GET', methodOverrides: [], scheme: 'https', host: r.host, path: r.path, query: '', headers: new Map(), sourceIp: '100.64.1.2', sourcePort: 5555, peerIp: '100.64.1.2', destinationIp: '10.0.0.5', requestId: undefined, routeId: undefined, protocol: 'HTTP/2' };
}

const f1 = (x: number) => x.toFixed(1);

// The red team's regex (issue 9): 9–13 s for one request on the backtracking engine.
{
  const redTeam = compilePolicy([{ name: 'r.json', text: JSON.stringify({ version: 1, routes: [{ id: 'r', match: { path_prefix: '/' }, allow: { header: { name: 'x-id', matches: '(?:[0-9]|\\d){1,30}' } } }] }) }], {});
  if (!redTeam.ok) throw new Error('red-team policy refused');
  const f = { ...facts({ host: 'a.example.com', path: '/' }), headers: new Map([['x-id', `${'1'.repeat(27)}x`]]) };
  const t0 = performance.now();
  const status = evaluate(redTeam.policy, f, undefined, 0, { requireRouteId: false }).status;
  const firstMs = performance.now() - t0;
  process.stderr.write(`(?:[0-9]|\\d){1,30} against a 28-byte header: ${status}, first decision ${firstMs.toFixed(2)} ms, then ${Math.min(...[0, 1, 2].map(() => perCall(() => evaluate(redTeam.policy, f, undefined, 0, { requireRouteId: false })))).toFixed(2)} µs (best of 3)\n`);
}
const f2 = (x: number) => x.toFixed(2);
const rows: string[] = [];

// The baseline for memory: the same server with no routes.
const empty = folder(0);
const base = await serve(empty);
await sleep(500);
const baseRss = rssMb(base.child.pid!);
base.child.kill('SIGTERM');
process.stderr.write(`empty policy: RSS ${f1(baseRss)} MB\n`);

for (const n of SIZES) {
  const dir = folder(n);
  let t0 = performance.now();
  // CPU seconds beside wall time: on a shared machine the wall time includes waiting for a core.
  const timed = existsSync('/usr/bin/time');
  const v = timed
    ? spawnSync('/usr/bin/time', ['-f', 'cpu %U %S', process.execPath, bin, 'validate', '--policies', join(dir, 'policies')], { encoding: 'utf8' })
    : spawnSync(process.execPath, [bin, 'validate', '--policies', join(dir, 'policies')], { encoding: 'utf8' });
  const validateMs = performance.now() - t0;
  if (v.status !== 0) throw new Error(`validate failed: ${v.stdout}${v.stderr}`);
  const vc = /cpu ([\d.]+) ([\d.]+)/.exec(v.stderr);
  const validateCpu = vc ? Number(vc[1]) + Number(vc[2]) : NaN;
  t0 = performance.now();
  const policy = loadPolicyDir(join(dir, 'policies'));
  const compileMs = performance.now() - t0;

  const q = sizeRequests(n);
  const options = { requireRouteId: false };
  const cost = (r: { host: string; path: string }) => {
    const f = facts(r);
    return perCall(() => evaluate(policy, f, undefined, 0, options));
  };
  const scan = (r: { host: string; path: string }) => {
    const f = facts(r);
    return perCall(() => linearFirstMatch(policy, f));
  };
  if (evaluate(policy, facts(q.last), undefined, 0, options).route !== `app-${n - 1}`) throw new Error('the last-route request does not reach the last route');
  // Three rounds, the best of each: a collection of the compile's garbage lands in one of them.
  const decide = { first: Infinity, last: Infinity, none: Infinity, scanLast: Infinity, scanNone: Infinity };
  for (let round = 0; round < 3; round++) {
    decide.first = Math.min(decide.first, cost(q.first));
    decide.last = Math.min(decide.last, cost(q.last));
    decide.none = Math.min(decide.none, cost(q.none));
  }
  decide.scanLast = scan(q.last);
  decide.scanNone = scan(q.none);

  const gaps = await inProcessGaps(dir);
  const s = await serve(dir);
  await sleep(500);
  const rss = rssMb(s.child.pid!);
  const r = await reloadUnderProbes(s, dir, n);
  await sleep(500);
  const rssAfter = rssMb(s.child.pid!);
  s.child.kill('SIGTERM');
  const row = `| ${n.toLocaleString('en')} | ${(validateMs / 1000).toFixed(2)} s (${f2(validateCpu)} s CPU) | ${compileMs.toFixed(0)} ms | ${(s.startMs / 1000).toFixed(2)} s (${f2(s.startCpu)} s CPU) | ${(r.reloadMs / 1000).toFixed(2)} s (${f2(r.reloadCpu)} s CPU, all threads) | ${f1(r.longestHealthz)} / ${f1(r.longestCheck)} ms (${r.probes} probes; idle ${f1(r.idleLongest)}; the prober's own longest stall ${f1(r.proberStall)}) | ${f1(gaps.reload)} ms, most CPU in one gap ${f1(gaps.reloadCpu)} ms; compile alone ${f1(gaps.compile)} ms, ${f1(gaps.compileCpu)} ms CPU (idle ${f1(gaps.idle)} ms, ${f1(gaps.idleCpu)} ms CPU) | ${f1(rss)} (+${f1(rss - baseRss)}) / ${f1(rssAfter)} MB | ${f2(decide.first)} / ${f2(decide.last)} / ${f2(decide.none)} µs | ${f2(decide.scanLast)} / ${f2(decide.scanNone)} µs |`;
  rows.push(row);
  process.stderr.write(`${row}\n`);
}

process.stdout.write(
  [
    `empty policy: RSS ${f1(baseRss)} MB; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${cpus().length} cores)`,
    '',
    '| routes | validate (CLI) | compile (in-process) | start → ready | reload (SIGHUP → swapped) | longest /healthz / Check during reload (same probes, no reload) | reload in-process: longest event-loop gap, most CPU in one gap (all threads); the same for the compile alone (no reload) | RSS after start (above empty) / after reload | decision first / last / none | linear scan last / none (lookup only) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n'),
);
process.exit(0);
