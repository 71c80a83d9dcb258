// `node dist/bench/restart-curve.js [--rate=2800] [--seconds=30] [--deadline=1000]
//   [--connections=8] [--before=9a93a98]`: the first seconds after a restart, when every
// token is a cache miss. Verdict is started cold and driven at `rate` checks per second, each
// with a token never seen before (ES256, pre-signed before the run), each call with a deadline
// (`grpc-timeout`), from a separate process (restart-driver.ts). Two Verdicts, one after the
// other in the same run: "before" is the commit before load shedding (built once into a temp
// folder from `git archive`), "after" is this checkout. Prints per second of sending: calls
// sent, allowed, shed (503 overloaded), answered 503 at the deadline, late (after the
// caller's deadline), gRPC errors, and p99 latency. See bench/README.md#restart-curve.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { envoyCheckRequest } from '../test/helpers/envoy-client.js';
import { checkRequestFrame } from '../test/helpers/grpc-frame.js';
import { benchPolicy } from './policy.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const RATE = Number(args.get('rate') ?? 2800);
const SECONDS = Number(args.get('seconds') ?? 30);
const DEADLINE = Number(args.get('deadline') ?? 1000);
const CONNECTIONS = Number(args.get('connections') ?? 8);
const DURABILITY = args.get('durability') ?? 'os'; // `disk` (today's default) adds an fdatasync per group commit
const BEFORE = args.get('before') ?? '9a93a98'; // the parent of 591b5e4, which added shedding

const repo = process.cwd();
const dir = mkdtempSync(join(tmpdir(), 'verdict-bench-restart-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** The "before" checkout, built once per commit and kept in the temp folder for later runs. */
function buildBefore(commit: string): string {
  const home = join(tmpdir(), `verdict-before-${commit}`);
  if (existsSync(join(home, 'dist/src/cli/main.js'))) return home;
  process.stderr.write(`building ${commit} into ${home} (once)…\n`);
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  execFileSync('sh', ['-c', `git -C "${repo}" archive ${commit} | tar -x -C "${home}"`]);
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: home, stdio: 'ignore' });
  execFileSync(join(home, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: home, stdio: 'inherit' });
  return home;
}
const beforeHome = buildBefore(BEFORE);

// The issuer: an ES256 key, its JWKS over HTTP on loopback, and one distinct token per call.
const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
const jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
const issuer = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
const count = RATE * SECONDS;
process.stderr.write(`signing ${count} tokens…\n`);
const frames: Buffer[] = [];
for (let i = 0; i < count; i += 1000) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(1000, count - i) }, (_, j) =>
      new SignJWT({ sub: `user-${i + j}`, email: `user-${i + j}@example.com`, groups: ['sre', 'dev'] }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(issuer).setAudience('verdict').setIssuedAt().setExpirationTime('2h').sign(privateKey),
    ),
  );
  for (const token of batch) {
    frames.push(checkRequestFrame(envoyCheckRequest({ host: 'grafana.example.com', path: '/d/abc/overview', headers: { authorization: `Bearer ${token}` } })));
  }
}
writeFileSync(join(dir, 'frames.bin'), Buffer.concat(frames));
frames.length = 0;

mkdirSync(join(dir, 'policies'));
writeFileSync(join(dir, 'policies/bench.json'), JSON.stringify(benchPolicy()));

async function serve(name: string, home: string): Promise<{ port: number; child: ChildProcess }> {
  const config = join(dir, `${name}.json`);
  writeFileSync(config, JSON.stringify({
    grpc: { listen: '127.0.0.1:0' },
    http: { listen: '127.0.0.1:0' },
    policies: { dir: 'policies', watch: false },
    // The same audit guarantee in both: "before" predates audit.durability and wrote to the page cache.
    audit: { sink: 'file', path: `${name}/audit.jsonl`, ...(name === 'after' && DURABILITY ? { durability: DURABILITY } : {}) },
    identity: { jwt: [{ issuer, jwks_uri: `${issuer}/jwks`, audiences: ['verdict'], algorithms: ['ES256'] }] },
  }));
  const child = spawn(process.execPath, [join(home, 'bin/verdict.js'), 'serve', '--config', config], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const m = /"http":"[^"]*:(\d+)"/.exec(err);
    const g = /"grpc":"[^"]*:(\d+)"/.exec(err);
    if (m && g && (await fetch(`http://127.0.0.1:${m[1]}/readyz`).then((r) => r.ok, () => false))) return { port: Number(g[1]), child };
  }
  throw new Error(`verdict (${name}) did not become ready: ${err}`);
}

interface Second { sent: number; allow: number; shed: number; deadline: number; other: number; late: number; errors: number; answers: number; p99: number | null; max: number | null }

async function curve(name: string, home: string): Promise<{ unanswered: number; errorKinds: Record<string, number>; seconds: Second[] }> {
  const { port, child } = await serve(name, home);
  // Not spawnSync: this process serves the JWKS, and must keep answering while the driver runs.
  const driver = spawn(process.execPath, [join(import.meta.dirname, 'restart-driver.js'), String(port), String(RATE), String(SECONDS), String(DEADLINE), String(CONNECTIONS), join(dir, 'frames.bin')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  driver.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise((r) => driver.on('close', r));
  child.kill('SIGKILL');
  if (code !== 0) throw new Error(`driver failed (exit ${String(code)})`);
  return JSON.parse(out) as { unanswered: number; errorKinds: Record<string, number>; seconds: Second[] };
}

// Rounds alternate the order (before, after; after, before; …): the machine's other load drifts.
const ROUNDS = Number(args.get('rounds') ?? 2);
const runs: { before: Awaited<ReturnType<typeof curve>>; after: Awaited<ReturnType<typeof curve>> }[] = [];
for (let r = 0; r < ROUNDS; r++) {
  if (r % 2 === 0) {
    const before = await curve('before', beforeHome);
    runs.push({ before, after: await curve('after', repo) });
  } else {
    const after = await curve('after', repo);
    runs.push({ after, before: await curve('before', beforeHome) });
  }
}
jwks.close();

const cell = (s: Second) => `${s.sent} | ${s.allow} | ${s.shed + s.deadline + s.other} | ${s.late + s.errors} | ${s.p99 ?? '–'}`;
const lines = [`restart curve: ${RATE} distinct tokens/s for ${SECONDS} s, deadline ${DEADLINE} ms, ${CONNECTIONS} connections, ${ROUNDS} rounds; before = ${BEFORE}, after = this checkout`];
const total = (r: { seconds: Second[] }, k: keyof Second) => r.seconds.reduce((a, s) => a + (Number(s[k]) || 0), 0);
for (const [round, { before, after }] of runs.entries()) {
  lines.push(
    '',
    `round ${round + 1} (${round % 2 === 0 ? 'before first' : 'after first'}); 503 = Verdict's own 503 (shed or at the deadline); late+errors = what the caller saw as a timeout`,
    '',
    '| s | before: sent | allowed | 503 | late+errors | p99 ms | after: sent | allowed | 503 | late+errors | p99 ms |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...before.seconds.map((b, i) => `| ${i + 1} | ${cell(b)} | ${cell(after.seconds[i]!)} |`),
    '',
  );
  for (const [n, r] of [['before', before], ['after', after]] as const) {
  lines.push(`${n}: sent ${total(r, 'sent')}, allowed ${total(r, 'allow')}, shed ${total(r, 'shed')}, 503 at deadline ${total(r, 'deadline')}, other ${total(r, 'other')}, late ${total(r, 'late')}, gRPC errors ${total(r, 'errors')}, unanswered ${r.unanswered}, worst ${Math.max(...r.seconds.map((s) => s.max ?? 0))} ms; errors by kind ${JSON.stringify(r.errorKinds)}`);
  }
}
process.stdout.write(`${lines.join('\n')}\n`);
