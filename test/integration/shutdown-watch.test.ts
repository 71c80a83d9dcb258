import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { DEMO_POLICY, startTestApp } from '../helpers/app.js';

type HealthClient = grpc.Client & { watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }> };

describe('shutdown with open grpc.health.v1 Watch streams', () => {
  it('watchers get NOT_SERVING, their streams end, and shutdown is not held for the grace period', async () => {
    const t = await startTestApp({ 'demo.json': DEMO_POLICY }, { shutdown: { grace_period: '30s', drain_delay: '0s' } });
    const Health = grpc.makeGenericClientConstructor((await import('grpc-health-check')).service as grpc.ServiceDefinition, 'Health');
    const health = new Health(`127.0.0.1:${t.app.grpcPort}`, grpc.credentials.createInsecure()) as unknown as HealthClient;
    try {
      // Two watchers, as Envoy and a Kubernetes probe would hold them.
      const watches = ['', 'envoy.service.auth.v3.Authorization'].map((service) => {
        const stream = health.watch({ service });
        const seen: string[] = [];
        const first = new Promise<void>((res) => stream.once('data', () => res()));
        const ended = new Promise<grpc.StatusObject>((res) => stream.on('status', res));
        stream.on('data', (m: { status: string }) => seen.push(m.status));
        stream.on('error', () => {});
        return { seen, first, ended };
      });
      await Promise.all(watches.map((w) => w.first));
      for (const w of watches) assert.deepEqual(w.seen, ['SERVING']);

      const started = Date.now();
      await t.app.stop('test');
      const tookMs = Date.now() - started;
      assert.ok(tookMs < 5000, `stop took ${tookMs} ms (grace period 30 s)`);
      for (const w of watches) {
        const status = await w.ended;
        assert.equal(status.code, grpc.status.OK, 'the stream is ended by the server, not cut');
        assert.equal(w.seen.at(-1), 'NOT_SERVING');
      }
    } finally {
      health.close();
    }
  });
});
