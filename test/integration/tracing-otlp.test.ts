import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { httpRequest } from '../helpers/http.js';
import { TestIssuer } from '../helpers/idp.js';
import { startCollector, type Collector, type ExportedSpan } from '../helpers/otelcol.js';
import { hasTool } from '../helpers/tools.js';

const haveCollector = hasTool('otelcol-verdict');
const skip = haveCollector ? false : 'otelcol-verdict is missing: install Go; npm test builds it from test/tools/otelcol';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
/** A traceparent as Envoy would send it: a fresh trace, Envoy's own span as the parent. */
function envoyTrace(sampled = true) {
  const traceId = hex(16);
  const parentId = hex(8);
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-${sampled ? '01' : '00'}` };
}

const byTrace = (traceId: string, name: string) => (spans: ExportedSpan[]) => spans.find((s) => s.traceId === traceId && s.name === name);
const childrenOf = (spans: ExportedSpan[], parent: ExportedSpan) => spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);

// One collector for the file: it starts in seconds on a busy machine.
let collector: Collector;
before(async () => {
  if (haveCollector) collector = await startCollector();
});
after(async () => {
  await collector?.stop();
});

for (const protocol of ['http/protobuf', 'grpc'] as const) {
  describe(`tracing over OTLP ${protocol} to a real OpenTelemetry Collector`, { skip }, () => {
    let idp: TestIssuer;
    let t: TestApp;
    let client: ReturnType<typeof authClient>;

    before(async () => {
      idp = await TestIssuer.start();
      t = await startTestApp(
        { 'demo.json': DEMO_POLICY },
        {
          identity: { jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'] }] },
          telemetry: { tracing: { endpoint: protocol === 'grpc' ? collector.grpcEndpoint : collector.httpEndpoint, protocol, service_name: `verdict-test-${protocol}` } },
        },
      );
      client = authClient(t.app.grpcPort);
    });
    after(async () => {
      client?.close();
      await t?.app.stop();
      await idp?.close();
    });

    it('a denied gRPC check joins Envoy\'s trace: verdict.check under the traceparent, children for identity, policy and audit, ids in both records', async () => {
      const trace = envoyTrace();
      const res = await client.check(envoyCheckRequest({ path: '/d/abc', headers: { traceparent: trace.traceparent, tracestate: 'envoy=abc' } }));
      assert.equal(res.denied_response?.status?.code, 401);
      const check = await collector.waitFor(byTrace(trace.traceId, 'verdict.check'));
      assert.equal(check.parentSpanId, trace.parentId, 'parent is the span Envoy sent');
      assert.equal(check.traceState, 'envoy=abc', 'tracestate carried on');
      assert.equal(check.kind, 2, 'SERVER');
      assert.equal(check.service, `verdict-test-${protocol}`);
      assert.equal(check.attributes['verdict.route'], 'grafana');
      assert.equal(check.attributes['verdict.decision'], 'deny');
      assert.equal(check.attributes['http.response.status_code'], 401);
      assert.deepEqual(check.attributes['verdict.reasons'], ['user-unauthenticated']);
      assert.equal(check.attributes['verdict.transport'], 'grpc');
      assert.equal(check.attributes['server.address'], 'grafana.example.com');
      // The decision id and the trace id appear in each other's records.
      const record = t.records().find((r) => r['verdict.decision_id'] === check.attributes['verdict.decision_id']);
      assert.ok(record, 'the span names the audited decision');
      assert.equal(record['trace.id'], trace.traceId);
      assert.equal(record['span.id'], check.spanId);
      const children = await collector.waitFor((spans) => {
        const c = childrenOf(spans, check);
        return c.length >= 3 ? c : undefined;
      });
      assert.deepEqual(children.map((c) => c.name).sort(), ['verdict.audit', 'verdict.identity', 'verdict.policy']);
      const identity = children.find((c) => c.name === 'verdict.identity')!;
      assert.equal(identity.attributes['verdict.identity.kind'], 'none');
      assert.deepEqual(children.find((c) => c.name === 'verdict.policy')!.attributes['verdict.reasons'], ['user-unauthenticated']);
    });

    it('a token: verify and JWKS fetch under identity the first time, a cache hit the second; no token in any span', async () => {
      const token = await idp.token({ sub: 'alice', email: 'alice@example.com', groups: ['sre'] });
      const first = envoyTrace();
      const second = envoyTrace();
      for (const tr of [first, second]) {
        const res = await client.check(envoyCheckRequest({ path: '/d/abc', headers: { traceparent: tr.traceparent, authorization: `Bearer ${token}`, cookie: 'other=1' } }));
        assert.equal(res.status?.code ?? 0, 0, 'allowed');
      }
      const check1 = await collector.waitFor(byTrace(first.traceId, 'verdict.check'));
      assert.equal(check1.attributes['verdict.decision'], 'allow');
      assert.equal(check1.attributes['verdict.auth_method'], 'jwt');
      const identity1 = await collector.waitFor((s) => childrenOf(s, check1).find((c) => c.name === 'verdict.identity'));
      assert.equal(identity1.attributes['verdict.token_cache_hit'], false);
      const verify = await collector.waitFor((s) => childrenOf(s, identity1).find((c) => c.name === 'verdict.token.verify'));
      assert.equal(verify.attributes['verdict.issuer'], idp.issuer);
      const fetch = await collector.waitFor((s) => childrenOf(s, verify).find((c) => c.name === 'verdict.jwks.fetch'));
      assert.ok(fetch, 'the first verification fetched the key set');

      const check2 = await collector.waitFor(byTrace(second.traceId, 'verdict.check'));
      const identity2 = await collector.waitFor((s) => childrenOf(s, check2).find((c) => c.name === 'verdict.identity'));
      assert.equal(identity2.attributes['verdict.token_cache_hit'], true);
      const afterHit = await collector.waitFor((s) => {
        const c = childrenOf(s, identity2);
        return c.length > 0 ? c : undefined;
      });
      // The suspension check still reads the store per request; nothing is verified.
      assert.deepEqual(afterHit.map((c) => c.name), ['verdict.session_store.suspended']);

      const everything = JSON.stringify(collector.spans());
      assert.ok(!everything.includes(token), 'no token');
      assert.ok(!everything.includes(token.split('.')[2]!), 'not even the signature');
      assert.ok(!/Bearer|other=1/.test(everything), 'no authorization or cookie values');
    });

    it('HTTP mode (Envoy http_service) reads traceparent from the request headers', async () => {
      const trace = envoyTrace();
      const res = await httpRequest(`http://127.0.0.1:${t.app.httpPort}/ext-authz/d/abc`, { headers: { host: 'grafana.example.com', accept: 'application/json', traceparent: trace.traceparent } });
      assert.equal(res.status, 401);
      const check = await collector.waitFor(byTrace(trace.traceId, 'verdict.check'));
      assert.equal(check.parentSpanId, trace.parentId);
      assert.equal(check.attributes['verdict.transport'], 'http');
      assert.equal(check.attributes['verdict.decision'], 'deny');
    });

    it('a trace Envoy did not sample is not exported, yet its id reaches the audit record', async () => {
      const unsampled = envoyTrace(false);
      await client.check(envoyCheckRequest({ path: '/d/abc', headers: { traceparent: unsampled.traceparent } }));
      // A sampled decision after it: once that arrived, the unsampled one would have too.
      const marker = envoyTrace();
      await client.check(envoyCheckRequest({ path: '/d/abc', headers: { traceparent: marker.traceparent } }));
      await collector.waitFor(byTrace(marker.traceId, 'verdict.audit'));
      await collector.waitFor(byTrace(marker.traceId, 'verdict.check'));
      assert.equal(collector.spans().filter((s) => s.traceId === unsampled.traceId).length, 0);
      const record = t.records().find((r) => r['trace.id'] === unsampled.traceId);
      assert.ok(record, 'the audit record carries the unsampled trace id');
    });
  });
}

describe('tracing when the collector is away', { skip }, () => {
  let t: TestApp;
  let client: ReturnType<typeof authClient>;
  before(async () => {
    // A port nothing listens on: every export fails, and the queue bound is tiny.
    const { freePort } = await import('../helpers/nginx.js');
    const port = await freePort();
    t = await startTestApp({ 'demo.json': DEMO_POLICY }, { telemetry: { tracing: { endpoint: `http://127.0.0.1:${port}/v1/traces`, max_queue_size: 4, export_timeout: '1s' } } });
    client = authClient(t.app.grpcPort);
  });
  after(async () => {
    client?.close();
    await t?.app.stop();
  });

  it('decisions are answered as usual; spans past the bound are dropped and counted', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await client.check(envoyCheckRequest({ path: '/d/abc', headers: { traceparent: envoyTrace().traceparent } }));
      assert.equal(res.denied_response?.status?.code, 401);
    }
    assert.equal(t.records().filter((r) => r['event.action'] === 'authorize').length, 20, 'every decision audited');
    const text = await t.app.metrics.registry.getSingleMetricAsString('verdict_trace_spans_dropped_total');
    const queueFull = Number(/verdict_trace_spans_dropped_total\{reason="queue_full"\} (\d+)/.exec(text)?.[1] ?? 0);
    // 20 decisions × 4 spans, at most 4 waiting at a time.
    assert.ok(queueFull >= 40, `dropped for a full queue: ${text}`);
  });
});

describe('tracing with audit.redact', { skip }, () => {
  let t: TestApp;
  let client: ReturnType<typeof authClient>;
  before(async () => {
    t = await startTestApp(
      { 'demo.json': DEMO_POLICY },
      { audit: { sink: 'file', path: 'audit.jsonl', redact: ['url.path', 'server.address', 'verdict.detail'] }, telemetry: { tracing: { endpoint: collector.httpEndpoint, service_name: 'verdict-test-redact' } } },
    );
    client = authClient(t.app.grpcPort);
  });
  after(async () => {
    client?.close();
    await t?.app.stop();
  });

  it('keys the audit record leaves out are left out of the spans too', async () => {
    const trace = envoyTrace();
    const secretPath = `/d/reset-${hex(8)}`;
    const res = await client.check(envoyCheckRequest({ path: secretPath, headers: { traceparent: trace.traceparent } }));
    assert.equal(res.denied_response?.status?.code, 401);
    const check = await collector.waitFor(byTrace(trace.traceId, 'verdict.check'));
    const record = t.records().find((r) => r['verdict.decision_id'] === check.attributes['verdict.decision_id']);
    assert.ok(record, 'the span names the audited decision');
    for (const key of ['url.path', 'server.address', 'verdict.detail']) {
      assert.equal(record[key], undefined, `${key} not in the record`);
      assert.equal(check.attributes[key], undefined, `${key} not in the span`);
    }
    assert.equal(check.attributes['verdict.route'], 'grafana', 'other attributes stay');
    const spans = await collector.waitFor((all) => {
      const mine = all.filter((s) => s.traceId === trace.traceId);
      return mine.length >= 4 ? mine : undefined;
    });
    assert.ok(!JSON.stringify(spans).includes(secretPath), 'the path is in no span of the trace');
  });
});
