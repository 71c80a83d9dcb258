import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { startVerdict } from '../../src/app.js';
import type { AuditSink } from '../../src/audit/audit-writer.js';
import { loadConfig } from '../../src/config/load-config.js';
import { VerdictError } from '../../src/errors.js';
import { DEMO_POLICY, startTestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { tempDir } from '../helpers/tmp.js';

describe('audit privacy and failure switches', () => {
  it('records query strings and chosen headers only by opt-in, and drops redacted keys', async () => {
    const t = await startTestApp({ 'p.json': DEMO_POLICY }, { audit: { sink: 'file', path: 'audit.jsonl', include_query: true, include_headers: ['user-agent'], redact: ['client.port', 'server.address'] } });
    const client = authClient(t.app.grpcPort);
    await client.check(envoyCheckRequest({ host: 'status.example.com', path: '/x?q=1', headers: { 'user-agent': 'probe/1', secret: 's3cr3t' } }));
    client.close();
    await t.app.stop();
    const r = t.records().find((x) => x['event.action'] === 'authorize')!;
    assert.equal(r['url.query'], 'q=1');
    assert.equal(r['http.request.header.user-agent'], 'probe/1');
    assert.equal(r['client.port'], undefined);
    assert.equal(r['server.address'], undefined);
    assert.doesNotMatch(JSON.stringify(t.records()), /s3cr3t/);
  });

  it('refuses to record credential headers', () => {
    const f = tempDir().write('v.json', { audit: { include_headers: ['authorization'] } });
    assert.throws(() => loadConfig(f, {}), (e: unknown) => e instanceof VerdictError && /\/audit\/include_headers\/0/.test(e.problems[0]!.pointer));
  });

  it('counts audit failures; with audit.fail_open the decision still goes out (off by default)', async () => {
    const sink: AuditSink = { write: async () => Promise.reject(new Error('disk full')), healthy: () => false, close: async () => {} };
    const t = tempDir();
    t.write('policies/p.json', DEMO_POLICY);
    for (const failOpen of [false, true]) {
      const config = loadConfig(t.write(`v${failOpen}.json`, { grpc: { listen: '127.0.0.1:0' }, http: { listen: '127.0.0.1:0' }, audit: { fail_open: failOpen } }), {});
      const app = await startVerdict(config, { log: pino({ level: 'silent' }), audit: sink });
      const client = authClient(app.grpcPort);
      const res = await client.check(envoyCheckRequest({ host: 'status.example.com' }));
      assert.equal(res.status?.code ?? 0, failOpen ? 0 : 14);
      assert.match(await app.metrics.registry.getSingleMetricAsString('verdict_audit_failures_total'), /verdict_audit_failures_total 1/);
      client.close();
      await app.stop();
    }
  });
});
