// `npm run bench:tracing`: what tracing costs per decision, in-process (bench/micro.ts's
// whole decision: decode, runCheck with a cached JWT and the real audit writer, encode).
// Off, then on with Envoy's traceparent sampled and unsampled, exporting over OTLP/HTTP to
// a sink in this process (the export's CPU is counted: it runs on the same thread, and each
// round ends with the export of everything it queued; the queue is sized so nothing drops).
import { createServer } from 'node:http';
import { AuditWriter } from '../src/audit/audit-writer.js';
import { runCheck, type CheckDeps } from '../src/check.js';
import { authCodec } from '../src/envoy/codec.js';
import { JwtVerifier } from '../src/identity/jwt-verifier.js';
import { IdentityResolver } from '../src/identity/resolve-identity.js';
import { compilePolicy } from '../src/policy/compile-policy.js';
import { factsFromCheckRequest } from '../src/request/from-check-request.js';
import { checkResponse } from '../src/response/check-response.js';
import { startTracing } from '../src/telemetry/tracing.js';
import { envoyCheckRequest } from '../test/helpers/envoy-client.js';
import { TestIssuer } from '../test/helpers/idp.js';
import { benchPolicy } from './policy.js';

const N = Number(process.argv[2] ?? 50_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const yieldNow = () => new Promise((r) => setImmediate(r));

/** µs per decision; `settle` (the export of what the round queued) is inside the timing. */
// CPU time (user + system) of this process per decision: on a shared, loaded machine wall
// time mostly measures the neighbours.
async function measure(fn: () => Promise<unknown>, n: number, settle?: () => Promise<void>): Promise<number> {
  const c = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    await fn();
    if (i % 256 === 0) await yieldNow();
  }
  await settle?.();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / n;
}

let exported = 0;
const sink = createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    exported++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const port = (sink.address() as { port: number }).port;

const idp = await TestIssuer.start(['RS256']);
const token = await idp.token({ sub: 'alice', email: 'alice@example.com', groups: ['sre', 'dev'] }, { expiresIn: '2h' });
const compiled = compilePolicy([{ name: 'bench.json', text: JSON.stringify(benchPolicy()) }], {});
if (!compiled.ok) throw new Error('bench policy invalid');
const codec = authCodec();
const wire = (flags: string) =>
  codec.encodeRequest(envoyCheckRequest({ host: 'grafana.example.com', path: '/d/abc/overview?orgId=1', headers: { authorization: `Bearer ${token}`, traceparent: `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-${flags}` } }));
const sampled = wire('01');
const unsampled = wire('00');
const verifier = new JwtVerifier([{ issuer: idp.issuer, jwksUri: idp.jwksUri, audiences: ['verdict'], algorithms: ['RS256'], groupsClaim: 'groups', clockSkewSeconds: 30, jwksCooldownMs: 30_000, jwksTimeoutMs: 5000, jwksRefreshMs: 600_000, jwksMinIntervalMs: 1000, jwksMaxStaleMs: 6 * 3_600_000 }], { maxTokenBytes: 8192, cacheSize: 1000, cacheMaxTtlMs: 300_000 });
const audit = new AuditWriter({ sink: 'file', path: '/dev/null', mode: 'async', maxDelayMs: 50, checkpointEvery: 1_000_000, checkpointIntervalMs: 0 });
const base: CheckDeps = { policies: { current: compiled.policy }, identity: new IdentityResolver(verifier), audit, options: { requireRouteId: false, includeQuery: false } };
const xff = { xffTrustedHops: 0 };
const decide = (deps: CheckDeps, w: Buffer) => async () => codec.encodeResponse(checkResponse(await runCheck(deps, 'grpc', () => factsFromCheckRequest(codec.decodeRequest(w), xff)), { exposeReasons: true }));

process.stdout.write(`\nVerdict tracing cost, node ${process.version}, ${N} decisions per round, CPU µs per decision (user + system)\n\n`);
// Off first, before the SDK exists at all (no context manager registered): as deployed.
const off: number[] = [];
await measure(decide(base, sampled), Math.min(N, 20_000));
for (let r = 0; r < ROUNDS; r++) off.push(await measure(decide(base, sampled), N));
const tracing = startTracing({ endpoint: `http://127.0.0.1:${port}/v1/traces`, protocol: 'http/protobuf', sample_ratio: 1, service_name: 'bench', max_queue_size: 8 * N + 100_000, export_timeout: 10_000 }, (n, reason) => { dropped += n; reasons[reason] = (reasons[reason] ?? 0) + n; });
const reasons: Record<string, number> = {};
let dropped = 0;
const traced: CheckDeps = { ...base, tracing };
// Full batches go out one after another as in service; the last partial one is flushed (a
// flush of everything at once would open more exports than the exporter allows in parallel).
const settle = async () => {
  while (tracing.pending > 512) await new Promise((r) => setTimeout(r, 1));
  await tracing.flush();
};
const on: number[] = [];
const onUnsampled: number[] = [];
await measure(decide(traced, sampled), Math.min(N, 20_000), settle);
for (let r = 0; r < ROUNDS; r++) {
  on.push(await measure(decide(traced, sampled), N, settle));
  onUnsampled.push(await measure(decide(traced, unsampled), N, settle));
}
const waiting = tracing.pending;
await tracing.shutdown();
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' / ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(`| tracing | CPU µs per decision (rounds) | median |\n| --- | --- | --- |\n`);
process.stdout.write(`| off | ${fmt(off)} | ${median(off).toFixed(2)} |\n`);
process.stdout.write(`| on, sampled (4 spans exported per decision) | ${fmt(on)} | ${median(on).toFixed(2)} |\n`);
process.stdout.write(`| on, Envoy's traceparent unsampled | ${fmt(onUnsampled)} | ${median(onUnsampled).toFixed(2)} |\n`);
process.stdout.write(`\nOTLP export requests received: ${exported}; spans dropped (queue full while an export ran): ${dropped}; waiting at the end: ${waiting}; ${JSON.stringify(reasons)}\n`);
await idp.close();
sink.close();
process.exit(0);
