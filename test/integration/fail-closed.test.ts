import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { startVerdict } from '../../src/app.js';
import type { AuditSink } from '../../src/audit/audit-writer.js';
import { loadConfig } from '../../src/config/load-config.js';
import { DEMO_POLICY, startTestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { TestIssuer } from '../helpers/idp.js';
import { tempDir } from '../helpers/tmp.js';

async function healthStatus(port: number): Promise<string> {
  const { service } = await import('grpc-health-check');
  const Health = grpc.makeGenericClientConstructor(service as grpc.ServiceDefinition, 'Health');
  const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check(req: { service: string }, cb: (e: Error | null, r: { status: string }) => void): void;
  };
  try {
    return await new Promise((res, rej) => client.check({ service: 'envoy.service.auth.v3.Authorization' }, (e, r) => (e ? rej(e) : res(r.status))));
  } finally {
    client.close();
  }
}

describe('failing closed', () => {
  it('denies with 503 and turns not-ready when the audit sink cannot write', async () => {
    const t = tempDir();
    t.write('policies/p.json', DEMO_POLICY);
    const records: unknown[] = [];
    let broken = false;
    const audit: AuditSink = {
      async write(r) {
        if (broken) throw new Error('disk full');
        records.push(r);
      },
      healthy: () => !broken,
      close: async () => {},
    };
    const config = loadConfig(t.write('v.json', { grpc: { listen: '127.0.0.1:0' }, http: { listen: '127.0.0.1:0' } }), {});
    const app = await startVerdict(config, { log: pino({ level: 'silent' }), audit });
    const client = authClient(app.grpcPort);
    try {
      const ok = await client.check(envoyCheckRequest({ host: 'status.example.com' }));
      assert.equal(ok.status?.code ?? 0, 0);
      broken = true;
      const res = await client.check(envoyCheckRequest({ host: 'status.example.com' }));
      assert.equal(res.status?.code, 14);
      assert.equal(Number(res.denied_response?.status?.code), 503);
      assert.deepEqual(JSON.parse(res.denied_response!.body!).reasons, ['internal-error']);
      assert.equal((await fetch(`http://127.0.0.1:${app.httpPort}/readyz`)).status, 503);
    } finally {
      client.close();
      broken = false;
      await app.stop();
    }
  });

  it('on stop: NOT_SERVING and not ready at once, answers during the drain, lets in-flight checks finish', async () => {
    const idp = await TestIssuer.start(['ES256']);
    const t = await startTestApp(
      { 'demo.json': DEMO_POLICY },
      { shutdown: { drain_delay: '400ms' }, identity: { jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] }] } },
    );
    const client = authClient(t.app.grpcPort);
    try {
      assert.equal(await healthStatus(t.app.grpcPort), 'SERVING');
      idp.delayMs = 300; // the first token needs the JWKS: this check is in flight across the stop
      const inFlight = client.check(envoyCheckRequest({ headers: { authorization: `Bearer ${await idp.token({ groups: ['sre'] })}` } }));
      await new Promise((r) => setTimeout(r, 50));
      const stopped = t.app.stop('test');
      assert.equal((await fetch(`http://127.0.0.1:${t.app.httpPort}/readyz`)).status, 503);
      assert.equal(await healthStatus(t.app.grpcPort), 'NOT_SERVING');
      const during = await client.check(envoyCheckRequest({ host: 'status.example.com' }));
      assert.equal(during.status?.code ?? 0, 0, 'checks are still answered during the drain');
      const res = await inFlight;
      assert.equal(res.status?.code ?? 0, 0, 'the in-flight check finished with its decision');
      await stopped;
      const actions = t.records().map((r) => r['event.action']);
      assert.deepEqual(actions.slice(-2), ['shutdown', 'audit.checkpoint']);
      assert.equal(actions.filter((a) => a === 'authorize').length, 2);
    } finally {
      client.close();
      await t.app.stop();
      await idp.close();
    }
  });
});
