// `node [--trace-gc] dist/bench/reload-gaps.js [--routes=10000] [--rounds=3] [--no-collect]`: where the
// serving thread stalls during a reload. In one process, with the set in force held (as a
// server holds it), it reloads a folder of N routes (bench/size-policy.ts) the way
// PolicyStore does, and watches the event loop with a 1 ms timer; every gap over 5 ms is
// printed with what overlapped it: garbage collections (PerformanceObserver 'gc' entries,
// their kind and duration), the compile slice running then (and how far it overran its
// budget), the worker's messages being received, the diff, the swap. Beside each gap the
// CPU time the process used during it (all threads): on a shared machine a long gap with
// little CPU is waiting for a core, not work. See bench/README.md "Policy size".
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';
import { compileSteps } from '../src/policy/compile-policy.js';
import type { PolicySet } from '../src/policy/policy-set.js';
import { PolicyParser } from '../src/policy-store/load-off-thread.js';
import { collectYoungGeneration } from '../src/policy-store/young-collection.js';
import { diffSteps, loadPolicyDir } from '../src/policy-store/policy-store.js';
import { sizePolicy } from './size-policy.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const N = Number(args.get('routes') ?? 10000);
const ROUNDS = Number(args.get('rounds') ?? 3);
// As the server does (load-off-thread.ts), or `--no-collect`: without the young-generation
// collection between slices (how it was before; compare with `node --max-semi-space-size=2`).
const collect = !args.has('no-collect');
const root = mkdtempSync(join(tmpdir(), 'verdict-gaps-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'policies'));
writeFileSync(join(root, 'policies/app.json'), JSON.stringify(sizePolicy(N)));

type Span = { what: string; start: number; end: number; cpu?: number };
const spans: Span[] = [];
const GC_KIND: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental-mark',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = ((e as unknown as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind ?? -1;
    spans.push({ what: `gc ${GC_KIND[kind] ?? kind}`, start: e.startTime, end: e.startTime + e.duration });
  }
}).observe({ entryTypes: ['gc'] });

/** A timed step: its span is recorded with the CPU the process used during it. */
function timed<T>(what: string, fn: () => T): T {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  try {
    return fn();
  } finally {
    const c = process.cpuUsage(c0);
    spans.push({ what, start: t0, end: performance.now(), cpu: (c.user + c.system) / 1000 });
  }
}

/** PolicyStore's reload, step by step, each slice recorded. */
async function reload(parser: PolicyParser, previous: PolicySet): Promise<PolicySet> {
  const t0 = performance.now();
  const files = await parser.parse(join(root, 'policies'));
  spans.push({ what: 'worker parse (off thread)', start: t0, end: performance.now() });
  const slices = async <T>(label: string, steps: Generator<void, T, void>, collect = false): Promise<T> => {
    for (let slice = 0; ; slice++) {
      let n = 0;
      const r = timed(`${label} slice ${slice}`, () => {
        const deadline = performance.now() + 4;
        for (;;) {
          const s = steps.next();
          n++;
          if (s.done || performance.now() >= deadline) return s;
        }
      });
      spans[spans.length - 1]!.what += ` (${n} steps)`;
      if (r.done) return r.value;
      await new Promise((resolve) => setImmediate(resolve));
      if (collect) {
        timed('young collection between slices', collectYoungGeneration);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
  const result = await slices('compile', compileSteps(files, {}), collect);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  await slices('diff', diffSteps(previous, result.policy));
  return result.policy;
}

let held: PolicySet = loadPolicyDir(join(root, 'policies'));
const parser = new PolicyParser();
await parser.parse(join(root, 'policies')); // the worker is warm in a server that reloads
const h = monitorEventLoopDelay({ resolution: 1 });

for (let round = 0; round < ROUNDS; round++) {
  spans.length = 0;
  const gaps: Span[] = [];
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    if (now - last > 5) gaps.push({ what: 'gap', start: last, end: now, cpu: (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000 });
    last = now;
    lastCpu = cpu;
  }, 1);
  h.reset();
  h.enable();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const next = await reload(parser, held);
  timed('swap (drop the old set)', () => (held = next));
  // Until the old set is collected: a full GC's worth of time, with the timer still watching.
  await new Promise((r) => setTimeout(r, 300));
  h.disable();
  clearInterval(timer);
  const c = process.cpuUsage(c0);
  const total = performance.now() - t0;
  const gc = spans.filter((s) => s.what.startsWith('gc'));
  const slices = spans.filter((s) => s.what.includes('slice'));
  const longestSlice = slices.reduce((a, s) => (s.end - s.start > a.end - a.start ? s : a), slices[0]!);
  process.stdout.write(
    `round ${round}: ${N} routes, ${total.toFixed(0)} ms wall, ${((c.user + c.system) / 1000).toFixed(0)} ms CPU (all threads); ` +
      `event-loop delay p50 ${(h.percentile(50) / 1e6).toFixed(1)} p99 ${(h.percentile(99) / 1e6).toFixed(1)} max ${(h.max / 1e6).toFixed(1)} ms; ` +
      `${slices.length} slices, longest ${(longestSlice.end - longestSlice.start).toFixed(1)} ms (${longestSlice.what}, ${longestSlice.cpu?.toFixed(1)} ms CPU); ` +
      `gaps over 5 ms: ${gaps.length}, most CPU in one gap ${Math.max(0, ...gaps.map((g) => g.cpu!)).toFixed(1)} ms; ` +
      `${gc.length} GCs, ${gc.reduce((a, s) => a + s.end - s.start, 0).toFixed(0)} ms, longest ${Math.max(0, ...gc.map((s) => s.end - s.start)).toFixed(1)} ms\n`,
  );
  for (const g of gaps.sort((a, b) => b.end - b.start - (a.end - a.start)).slice(0, 8)) {
    const inside = spans.filter((s) => s.end > g.start && s.start < g.end).map((s) => `${s.what} ${(s.end - s.start).toFixed(1)} ms${s.cpu !== undefined ? ` (${s.cpu.toFixed(1)} CPU)` : ''}`);
    process.stdout.write(`  gap ${(g.end - g.start).toFixed(1)} ms (${g.cpu!.toFixed(1)} ms CPU): ${inside.join('; ') || 'nothing recorded'}\n`);
  }
}
parser.close();
