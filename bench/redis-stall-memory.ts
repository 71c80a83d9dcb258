// `node dist/bench/redis-stall-memory.js [--rate=300] [--stall=10]`: Verdict's memory through a
// frozen Redis. Verdict runs in its own process with browser sessions in Debian's
// redis-server; a client process (restart-driver.ts) sends session-cookie checks at `rate`
// per second for the whole run; Redis is frozen (SIGSTOP) for `stall` seconds in the middle.
// Samples Verdict's resident set and V8 heap (its own /metrics, each after a forced full GC)
// before the stall, during it, after SIGCONT and after the load. See bench/README.md#redis-stall-memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRequestFrame } from '../test/helpers/grpc-frame.js';
import { DEMO_POLICY } from '../test/helpers/app.js';
import { authClient, envoyCheckRequest } from '../test/helpers/envoy-client.js';
import { loginThroughCheck } from '../test/helpers/login.js';
import { TestOidcProvider } from '../test/helpers/oidc-idp.js';
import { startRedis } from '../test/helpers/redis.js';
import { sessionKey } from '../test/helpers/sessions.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const RATE = Number(args.get('rate') ?? 300);
const STALL_S = Number(args.get('stall') ?? 10);
const LEAD_S = 8; // load before the freeze
const TAIL_S = 12; // load after SIGCONT
const SECONDS = LEAD_S + STALL_S + TAIL_S;

const dir = mkdtempSync(join(tmpdir(), 'verdict-bench-stall-'));
const children: ChildProcess[] = [];
const redis = await startRedis();
process.on('exit', () => {
  redis.resume();
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
const idp = await TestOidcProvider.start({ redirectUris: ['http://grafana.example.com/.verdict/callback'] });

mkdirSync(join(dir, 'policies'));
writeFileSync(join(dir, 'policies/demo.json'), JSON.stringify(DEMO_POLICY));
writeFileSync(join(dir, 'verdict.json'), JSON.stringify({
  grpc: { listen: '127.0.0.1:0' },
  http: { listen: '127.0.0.1:0' },
  policies: { dir: 'policies', watch: false },
  audit: { sink: 'file', path: 'audit/audit.jsonl' },
  identity: {
    oidc: { issuer: idp.issuer, client_id: 'verdict', client_secret: 'verdict-test-secret', scopes: ['openid', 'email', 'groups'], public_scheme: 'http', allow_insecure_http: true },
    session: { keys: [sessionKey()], store: { type: 'redis', url: redis.url } },
  },
}));
// --expose-gc and gc-on-signal.js: each sample is taken after a full GC (SIGUSR2), so it counts live memory.
const verdict = spawn(process.execPath, ['--expose-gc', '--import', join(import.meta.dirname, 'gc-on-signal.js'), join(process.cwd(), 'bin/verdict.js'), 'serve', '--config', 'verdict.json'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
children.push(verdict);
let err = '';
verdict.stderr!.on('data', (d: Buffer) => (err += d.toString()));
let grpcPort = 0;
let httpPort = 0;
for (let i = 0; i < 600 && !grpcPort; i++) {
  await new Promise((r) => setTimeout(r, 100));
  const m = /"http":"[^"]*:(\d+)"/.exec(err);
  const g = /"grpc":"[^"]*:(\d+)"/.exec(err);
  if (m && g && (await fetch(`http://127.0.0.1:${m[1]}/readyz`).then((r) => r.ok, () => false))) [grpcPort, httpPort] = [Number(g[1]), Number(m[1])];
}
if (!grpcPort) throw new Error(`verdict did not become ready: ${err}`);

const client = authClient(grpcPort);
const { cookie } = await loginThroughCheck(client, 'alice');
client.close();
const frame = checkRequestFrame(envoyCheckRequest({ headers: { cookie, accept: 'application/json' } }));
writeFileSync(join(dir, 'frames.bin'), Buffer.concat(Array.from({ length: RATE * SECONDS }, () => frame)));

async function sample(label: string): Promise<string> {
  verdict.kill('SIGUSR2');
  await new Promise((r) => setTimeout(r, 300));
  const m = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then((r) => r.text());
  const get = (name: string) => Number(new RegExp(`^${name} ([\\d.e+]+)`, 'm').exec(m)?.[1] ?? NaN) / 2 ** 20;
  const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.status, () => 0);
  return `| ${label} | ${get('verdict_process_resident_memory_bytes').toFixed(1)} | ${get('verdict_nodejs_heap_size_used_bytes').toFixed(1)} | ${get('verdict_nodejs_heap_size_total_bytes').toFixed(1)} | ${ready} |`;
}
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

const rows = [await sample('idle, before the load')];
const driver = spawn(process.execPath, [join(import.meta.dirname, 'restart-driver.js'), String(grpcPort), String(RATE), String(SECONDS), '1000', '4', join(dir, 'frames.bin')], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
driver.stdout.on('data', (d: Buffer) => (out += d.toString()));
const done = new Promise((r) => driver.on('close', r));
await sleep(LEAD_S - 0.5);
rows.push(await sample(`under load, before the freeze (${LEAD_S - 0.5} s)`));
await sleep(0.5);
redis.pause();
await sleep(STALL_S / 2);
rows.push(await sample(`frozen ${STALL_S / 2} s`));
await sleep(STALL_S / 2 - 0.3);
rows.push(await sample(`end of the freeze (${STALL_S - 0.3} s)`));
await sleep(0.3);
redis.resume();
await sleep(5);
rows.push(await sample('5 s after SIGCONT'));
await sleep(TAIL_S - 5.5);
rows.push(await sample(`${TAIL_S - 5.5} s after SIGCONT, load still on`));
await done;
await sleep(10);
rows.push(await sample('10 s after the load ended'));
const result = JSON.parse(out) as { seconds: { sent: number; allow: number; other: number; deadline: number; late: number; errors: number; p99: number | null }[] };

process.stdout.write(`redis stall: ${RATE} session checks/s for ${SECONDS} s (4 connections, 1 s deadline), Redis frozen ${STALL_S} s after ${LEAD_S} s\n\n`);
process.stdout.write(`| moment | RSS MB | heap used MB | heap total MB | /readyz |\n|---|--:|--:|--:|--:|\n${rows.join('\n')}\n\n`);
process.stdout.write(`per second: ${result.seconds.map((s, i) => `${i + 1}:${s.allow}/${s.sent - s.allow}${s.late + s.errors ? `(${s.late + s.errors} late)` : ''}`).join(' ')}\n(allowed/not allowed; late = after the caller's deadline)\n`);
verdict.kill('SIGTERM');
await idp.close();
await redis.stop();
process.exit(0);
