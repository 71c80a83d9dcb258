// Real Envoy for the e2e tests: the bootstrap `verdict envoy-config` prints for a test
// policy and config (listeners on loopback, TLS termination), run as `npm test` provisioned
// it; plus TLS certificates made at run time and a raw TLS client (the request target goes out
// byte for byte).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { bootstrapYaml } from '../../../src/cli/envoy-config.js';
import { loadForCommand } from '../../../src/cli/io.js';
import type { EnvoyFlags } from '../../../src/envoy/envoy-options.js';
import { toolPath } from '../../helpers/tools.js';

export type Obj = Record<string, any>;

const loopback = (port: number) => ({ address: '127.0.0.1', port_value: port });

/** A self-signed certificate for `names` (and 127.0.0.1), made with openssl now, never stored. */
export function makeCert(dir: string, names: string[]): { certFile: string; keyFile: string; pem: string } {
  const certFile = join(dir, 'tls-cert.pem');
  const keyFile = join(dir, 'tls-key.pem');
  const san = [...names.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',');
  const r = spawnSync(toolPath('openssl'), ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=verdict-e2e', '-addext', `subjectAltName=${san}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { certFile, keyFile, pem: readFileSync(certFile, 'utf8') };
}

/**
 * What `verdict envoy-config --config FILE` prints (with `flags`), parsed: the generated
 * bootstrap as Verdict ships it, from the command's own code in this process (a second Node
 * start costs seconds on a busy machine). The test's config has an `envoy` section with the
 * listeners on loopback and TLS from the test's certificate; Verdict's gRPC address, known
 * only once it listens, comes as the `--verdict-address` flag.
 */
export function generatedBootstrap(configFile: string, flags: EnvoyFlags = {}): Obj {
  const loaded = loadForCommand(configFile);
  if (!loaded) throw new Error(`verdict envoy-config: cannot load ${configFile}`);
  return parse(bootstrapYaml(loaded, flags)) as Obj;
}

/**
 * The config's `envoy` section for a test: everything on loopback, TLS with the test's
 * certificate; a plain HTTP redirect listener only when `listen` is given.
 */
export function envoySection(o: { listen?: number; tlsListen: number; tls: { certFile: string; keyFile: string }; verdictGrpc?: number }): Obj {
  return {
    ...(o.verdictGrpc === undefined ? {} : { verdict_address: `127.0.0.1:${o.verdictGrpc}` }),
    ...(o.listen === undefined ? {} : { listen: `127.0.0.1:${o.listen}` }),
    admin_listen: '127.0.0.1:0',
    tls: { cert_file: o.tls.certFile, key_file: o.tls.keyFile, listen: `127.0.0.1:${o.tlsListen}`, redirect_http: o.listen !== undefined },
  };
}

/** The HTTPS listener (the one running the routes and ext_authz). */
export function tlsListener(cfg: Obj): Obj {
  const l = (cfg.static_resources.listeners as Obj[]).find((x) => x.filter_chains.some((c: Obj) => c.transport_socket));
  if (!l) throw new Error('the generated config has no TLS listener');
  return l;
}

export function hcm(listener: Obj): Obj {
  return listener.filter_chains[0].filters[0].typed_config as Obj;
}

/** The `http_service` filter exactly as docs/http-modes.md shows it (the test runs the docs). */
export function documentedHttpServiceFilter(verdictHttp: number): Obj {
  const doc = readFileSync(join(import.meta.dirname, '../../../../docs/http-modes.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Envoy (`http_service`)'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  if (!yaml) throw new Error('docs/http-modes.md has no http_service YAML block');
  const filter = (parse(yaml) as Obj[])[0]!;
  const service = filter.typed_config.http_service as Obj;
  if (service.server_uri.cluster !== 'verdict_http') throw new Error('the documented http_service cluster is not verdict_http');
  service.server_uri.uri = `http://127.0.0.1:${verdictHttp}`;
  return filter;
}

/**
 * A second listener, the same routes, with the ext_authz filter in `http_service` mode
 * as documented, pointed at Verdict's HTTP port.
 */
export function addHttpServiceListener(cfg: Obj, listen: number, verdictHttp: number): void {
  const grpcListener = tlsListener(cfg);
  const l = structuredClone(grpcListener);
  l.name = 'ingress_http_service';
  l.address.socket_address = loopback(listen);
  const m = hcm(l);
  m.stat_prefix = 'ingress_http_service';
  const i = (m.http_filters as Obj[]).findIndex((f) => f.name === 'envoy.filters.http.ext_authz');
  m.http_filters[i] = documentedHttpServiceFilter(verdictHttp);
  cfg.static_resources.listeners.push(l);
  cfg.static_resources.clusters.push({ name: 'verdict_http', type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: 'verdict_http', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: loopback(verdictHttp) } } }] }] } });
}

export interface RunningEnvoy {
  readonly admin: string;
  /** Envoy's stdout: the access log lines. */
  readonly lines: string[];
  stderr(): string;
  /** The cluster `name`'s health flags for its one host, from the admin API. */
  health(cluster: string): Promise<string>;
  /** Waits for an access log line for this request id. */
  accessLog(requestIdOrDecision: string, ms?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function poll<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs Envoy on `cfg` and waits until it is ready and the Verdict cluster is healthy. */
export async function startEnvoy(dir: string, cfg: Obj): Promise<RunningEnvoy> {
  const file = join(dir, 'envoy.yaml');
  writeFileSync(file, stringify(cfg, { lineWidth: 0 }));
  const adminPath = join(dir, 'envoy-admin-address');
  // --file-flush-interval-msec: access log lines appear at once instead of every 10 s.
  const proc: ChildProcess = spawn(toolPath('envoy'), ['-c', file, '--admin-address-path', adminPath, '--disable-hot-restart', '--log-level', 'warn', '--file-flush-interval-msec', '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let err = '';
  let partial = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let dead = false;
  void exited.then(() => (dead = true));
  try {
    return await untilReady(proc, () => dead, () => err, adminPath, lines);
  } catch (e) {
    // Never leave an Envoy behind: the caller has no handle on it yet.
    if (!dead) proc.kill('SIGKILL');
    await exited;
    throw e;
  }
}

async function untilReady(proc: ChildProcess, isDead: () => boolean, stderr: () => string, adminPath: string, lines: string[]): Promise<RunningEnvoy> {
  const exited = new Promise<void>((r) => (proc.exitCode !== null ? r() : proc.once('exit', () => r())));
  const admin = await poll('Envoy admin address', 30000, () => {
    if (isDead()) throw new Error(`envoy exited: ${stderr()}`);
    try {
      const a = readFileSync(adminPath, 'utf8').trim();
      return a ? `http://${a}` : undefined;
    } catch {
      return undefined;
    }
  });
  const get = async (path: string): Promise<string | undefined> => {
    try {
      const r = await fetch(admin + path);
      return await r.text();
    } catch {
      return undefined;
    }
  };
  await poll('Envoy ready', 30000, async () => {
    if (isDead()) throw new Error(`envoy exited: ${stderr()}`);
    return (await get('/ready'))?.trim() === 'LIVE' ? true : undefined;
  });
  const envoy: RunningEnvoy = {
    admin,
    lines,
    stderr,
    async health(cluster) {
      const text = (await get('/clusters')) ?? '';
      const line = text.split('\n').find((l) => l.startsWith(`${cluster}::`) && l.includes('::health_flags::'));
      return line?.split('::health_flags::')[1] ?? '';
    },
    accessLog(id, ms = 5000) {
      return poll(`access log line with ${id}`, ms, () => lines.find((l) => l.includes(id)));
    },
    async stop() {
      if (!isDead()) proc.kill('SIGTERM');
      await exited;
    },
  };
  await poll('Verdict cluster healthy in Envoy', 20000, async () => ((await envoy.health('verdict')) === 'healthy' ? true : undefined));
  return envoy;
}

export interface RawResponse {
  status: number;
  /** Names lower case; repeated headers joined with `, ` (set-cookie kept apart). */
  headers: Record<string, string>;
  setCookies: string[];
  body: string;
}

/**
 * One request over a fresh TLS connection, written byte for byte: `head` is the request
 * line and headers (without the final blank line). SNI is `servername`.
 */
export function rawTls(port: number, servername: string, head: string, ca: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['http/1.1'] }, () => {
      socket.write(`${head}\r\n\r\n`, 'latin1');
    });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (complete: boolean) => {
      if (done) return;
      const buf = Buffer.concat(chunks);
      if (!complete && !isComplete(buf)) return;
      done = true;
      socket.destroy();
      try {
        resolve(parseResponse(buf));
      } catch (e) {
        reject(e);
      }
    };
    // Done as soon as the response is whole: Envoy keeps a connection it answered itself
    // open for its delayed-close timeout, waiting for the client to hang up.
    socket.on('data', (d: Buffer) => (chunks.push(d), finish(false)));
    socket.on('error', (e) => (done ? undefined : reject(e)));
    socket.on('end', () => finish(true));
    socket.setTimeout(10000, () => socket.destroy(new Error(`no answer to ${head.split('\r\n')[0]}`)));
  });
}

function isComplete(buf: Buffer): boolean {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = buf.subarray(0, end).toString('latin1').toLowerCase();
  const length = /\r\ncontent-length: *(\d+)/.exec(head);
  if (length) return buf.length - end - 4 >= Number(length[1]);
  if (/\r\ntransfer-encoding: *chunked/.test(head)) return buf.subarray(end).includes('\r\n0\r\n\r\n');
  return false;
}

function parseResponse(buf: Buffer): RawResponse {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`incomplete response: ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`);
  const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1]);
  const headers: Record<string, string> = {};
  const setCookies: string[] = [];
  for (const l of lines) {
    const i = l.indexOf(':');
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    if (k === 'set-cookie') setCookies.push(v);
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  let body = buf.subarray(end + 4);
  if (headers['transfer-encoding']?.includes('chunked')) {
    const out: Buffer[] = [];
    let at = 0;
    for (;;) {
      const nl = body.indexOf('\r\n', at);
      const size = parseInt(body.subarray(at, nl).toString('latin1'), 16);
      if (!size) break;
      out.push(body.subarray(nl + 2, nl + 2 + size));
      at = nl + 2 + size + 2;
    }
    body = Buffer.concat(out);
  }
  return { status, headers, setCookies, body: body.toString('utf8') };
}

/** A well-formed request through Envoy: `GET path` to `host` with `headers`. */
export function request(port: number, host: string, path: string, ca: string, headers: Record<string, string> | [string, string][] = {}, method = 'GET'): Promise<RawResponse> {
  const list = Array.isArray(headers) ? headers : Object.entries(headers);
  const head = [`${method} ${path} HTTP/1.1`, `Host: ${host}`, ...list.map(([k, v]) => `${k}: ${v}`), 'Connection: close'].join('\r\n');
  return rawTls(port, host, head, ca);
}
