// `node dist/bench/profile-split.js <file.cpuprofile> <decisions>`: where a server's busy time
// went, in µs per decision, from a CPU profile of the peak rounds (BENCH_PROF_PEAK, run.ts).
// Each sample goes to the first group below that any function on its stack belongs to (so
// an audit write under a Check call counts as audit, not as the decision); what is left over
// is the gRPC transport: grpc-js, node:http2, streams, sockets. See bench/README.md.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, count] = process.argv.slice(2);
if (!file || !count) {
  process.stderr.write('usage: node dist/bench/profile-split.js <file.cpuprofile> <decisions in the profile>\n');
  process.exit(2);
}
const decisions = Number(count);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}`;

const has = (stack: string[], ...names: string[]) => stack.some((s) => names.some((n) => s === n || s.startsWith(`${n} `)));
const groups: [string, (stack: string[]) => boolean][] = [
  ['garbage collector', (s) => s[0] === '(garbage collector) '],
  ['(program): V8 and native code outside JS', (s) => s[0] === '(program) '],
  // The first sample after SIGUSR2 carries the time since the profile began; not the server's.
  ['profiler start (bench only, left out of the total)', (s) => s.some((x) => x.includes('prof-on-signal'))],
  ['decode CheckRequest (protobufjs)', (s) => has(s, 'decodeRequest codec.js')],
  ['encode CheckResponse', (s) => has(s, 'encodeResponse codec.js')],
  ['audit record + chain link (canonical JSON, SHA-256)', (s) => has(s, 'write audit-writer.js', 'decisionRecord record.js')],
  ['audit batch write (flush, fs.write and fdatasync callbacks, file check)', (s) => has(s, '#flush', '#commit', '#writeAll', '#fileState')],
  ['metrics (prom-client)', (s) => has(s, 'observeDecision', 'observeAuditWrite', 'tokenCache', 'observe app.js')],
  ['request facts, identity (token cache), policy', (s) => has(s, 'decide check.js', 'conclude check.js')],
  ['CheckResponse object + header checks', (s) => has(s, 'checkAnswer app.js', 'checkResponse check-response.js')],
  ['rest of the decision (runCheck, continuations)', (s) => s.some((x) => x.endsWith(' check.js') || x.endsWith(' app.js'))],
  ['gRPC transport (grpc-js, node:http2, streams, sockets)', () => true],
];
const sums = new Map<string, number>(groups.map(([g]) => [g, 0]));
let busy = 0;
for (let i = 0; i < p.samples.length; i++) {
  const t = p.timeDeltas[i] ?? 0;
  const leaf = byId.get(p.samples[i]!)!;
  if (leaf.callFrame.functionName === '(idle)') continue;
  const stack: string[] = [];
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) stack.push(label(byId.get(id)!));
  const [g] = groups.find(([, match]) => match(stack))!;
  sums.set(g, sums.get(g)! + t);
  if (!g.startsWith('profiler')) busy += t;
}
process.stdout.write('| where | µs per decision | share |\n| --- | --- | --- |\n');
for (const [g, t] of sums) if (t > 0 && !g.startsWith('profiler')) process.stdout.write(`| ${g} | ${(t / decisions).toFixed(1)} | ${((100 * t) / busy).toFixed(0)} % |\n`);
process.stdout.write(`| **main thread busy** | **${(busy / decisions).toFixed(1)}** | |\n`);
