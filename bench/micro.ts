// `npm run bench:micro`: in-process cost of each stage of one decision, on one core,
// without transport noise. Complements bench/run.ts (which measures the whole server).
import { AuditWriter } from '../src/audit/audit-writer.js';
import { link, type ChainHead } from '../src/audit/chain.js';
import { decisionRecord } from '../src/audit/record.js';
import { runCheck, type CheckDeps } from '../src/check.js';
import { authCodec } from '../src/envoy/codec.js';
import { JwtVerifier } from '../src/identity/jwt-verifier.js';
import { IdentityResolver } from '../src/identity/resolve-identity.js';
import { compilePolicy } from '../src/policy/compile-policy.js';
import { evaluate } from '../src/policy/evaluate.js';
import { factsFromCheckRequest } from '../src/request/from-check-request.js';
import { checkResponse } from '../src/response/check-response.js';
import { Metrics } from '../src/servers/metrics.js';
import { envoyCheckRequest } from '../test/helpers/envoy-client.js';
import { TestIssuer } from '../test/helpers/idp.js';
import { benchPolicy } from './policy.js';

const N = Number(process.argv[2] ?? 200_000);

// CPU time of this process (user + system), not wall time: on a shared machine other jobs
// stretch wall time, not the CPU a stage uses.
function cpuUs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}

function measure(name: string, fn: () => unknown, n = N): number {
  for (let i = 0; i < Math.min(20_000, n); i++) fn();
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const us = cpuUs(t) / n;
  process.stdout.write(`| ${name} | ${us.toFixed(2)} |\n`);
  return us;
}

// Yields to the event loop now and then, as a server does between requests: the audit
// writer flushes on timers, which a loop of microtasks alone would never let run.
const yieldNow = () => new Promise((r) => setImmediate(r));

async function measureAsync(name: string, fn: () => Promise<unknown>, n = N): Promise<number> {
  for (let i = 0; i < Math.min(20_000, n); i++) {
    await fn();
    if (i % 256 === 0) await yieldNow();
  }
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    await fn();
    if (i % 256 === 0) await yieldNow();
  }
  const us = cpuUs(t) / n;
  process.stdout.write(`| ${name} | ${us.toFixed(2)} |\n`);
  return us;
}

const idp = await TestIssuer.start(['RS256']);
const token = await idp.token({ sub: 'alice', email: 'alice@example.com', groups: ['sre', 'dev'] }, { expiresIn: '2h' });
const compiled = compilePolicy([{ name: 'bench.json', text: JSON.stringify(benchPolicy()) }], {});
if (!compiled.ok) throw new Error('bench policy invalid');
const policy = compiled.policy;
const codec = authCodec();
const wire = codec.encodeRequest(envoyCheckRequest({ host: 'grafana.example.com', path: '/d/abc/overview?orgId=1', headers: { authorization: `Bearer ${token}` } }));
const verifier = new JwtVerifier([{ issuer: idp.issuer, jwksUri: idp.jwksUri, audiences: ['verdict'], algorithms: ['RS256'], groupsClaim: 'groups', clockSkewSeconds: 30, jwksCooldownMs: 30_000, jwksTimeoutMs: 5000, jwksRefreshMs: 600_000, jwksMinIntervalMs: 1000, jwksMaxStaleMs: 6 * 3_600_000 }], { maxTokenBytes: 8192, cacheSize: 1000, cacheMaxTtlMs: 300_000 });
const identity = new IdentityResolver(verifier);
const xff = { xffTrustedHops: 0 };
const req = codec.decodeRequest(wire);
const built = factsFromCheckRequest(req, xff);
if (!built.ok) throw new Error('bench request refused');
const who = await identity.resolve(built.facts, Date.now());
if (who.kind !== 'principal') throw new Error('bench token refused');
const now = Date.now();
// The real audit writer (hash chain, async mode) writing to /dev/null: the whole-decision
// figure includes what every decision pays for its record.
const audit = new AuditWriter({ sink: 'file', path: '/dev/null', mode: 'async', maxDelayMs: 50, checkpointEvery: 1_000_000, checkpointIntervalMs: 0 });
const metrics = new Metrics();
const deps: CheckDeps = { policies: { current: policy }, identity, audit, observe: (o, t, s) => metrics.observeDecision(o, t, s), options: { requireRouteId: false, includeQuery: false } };
const decision = evaluate(policy, built.facts, who.principal, now, { requireRouteId: false });
const outcome = { decisionId: '0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9', decision, identity: who, facts: built.facts };

process.stdout.write(`\nVerdict micro-benchmark, node ${process.version}, ${N} iterations, CPU µs per operation (user + system)\n\n| stage | µs |\n| --- | --- |\n`);
measure('decode CheckRequest (protobufjs, no toObject)', () => codec.decodeRequest(wire));
measure('CheckRequest → RequestFacts (headers, path/host normalization)', () => factsFromCheckRequest(req, xff));
measure('identity: bearer JWT, cache hit (sha256 + LRU, answered without a promise)', () => identity.resolve(built.facts, now));
measure('evaluate: 20 routes, route 20 matched by regex, 3-criterion allow', () => evaluate(policy, built.facts, who.principal, now, { requireRouteId: false }));
measure('Decision → CheckResponse object', () => checkResponse(outcome, { exposeReasons: true }));
measure('encode CheckResponse', () => codec.encodeResponse(checkResponse(outcome, { exposeReasons: true })));
let head: ChainHead = { seq: 0, hash: null };
measure('audit record build + chain link (canonical JSON + SHA-256, the written line)', () => {
  const { record } = link(decisionRecord({ decisionId: outcome.decisionId, timeMs: now, transport: 'grpc', decision, facts: built.facts, rawPath: '/d/abc/overview?orgId=1', identity: who, policyHash: policy.hash, durationMs: 0.05, includeQuery: false }), head);
  head = { seq: record.seq as number, hash: record.hash as string };
});
measure('metrics: counters + histogram', () => metrics.observeDecision(outcome, 'grpc', 0.00005));
await measureAsync('whole decision (runCheck + response + encode)', async () => codec.encodeResponse(checkResponse(await runCheck(deps, 'grpc', () => factsFromCheckRequest(codec.decodeRequest(wire), xff)), { exposeReasons: true })));
const { jwtVerify, createLocalJWKSet } = await import('jose');
const keys = createLocalJWKSet({ keys: [...idp.keys.values()].map((k) => k.jwk) });
await measureAsync('for scale: jose.jwtVerify RS256, no cache', () => jwtVerify(token, keys, { issuer: idp.issuer, audience: 'verdict' }), 5000);
await idp.close();
process.exit(0);
