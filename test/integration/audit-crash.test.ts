import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { DEMO_POLICY } from '../helpers/app.js';
import { serveVerdict, verdictAsyncResult } from '../helpers/cli.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { tempDir } from '../helpers/tmp.js';

describe('audit in sync mode survives kill -9', () => {
  it('every decision id a client received is in the file, and the chain verifies after a restart', async () => {
    const t = tempDir();
    t.write('policies/p.json', DEMO_POLICY);
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    t.write('audit-key.pem', await exportPKCS8(privateKey));
    const pub = t.write('audit-pub.pem', await exportSPKI(publicKey));
    const config = t.write('verdict.json', {
      grpc: { listen: '127.0.0.1:0' },
      http: { listen: '127.0.0.1:0' },
      audit: { sink: 'file', path: 'audit.jsonl', mode: 'sync', signing_key_file: 'audit-key.pem', checkpoint_every: 50 },
    });

    const first = await serveVerdict(config, t.dir);
    const client = authClient(first.port);
    const received: string[] = [];
    let running = true;
    const worker = async () => {
      while (running) {
        try {
          const res = await client.check(envoyCheckRequest({ host: received.length % 2 ? 'status.example.com' : 'grafana.example.com' }));
          const id = res.dynamic_metadata?.fields?.decision_id?.stringValue;
          if (id) received.push(id);
        } catch {
          // Before the kill: a slow first connection on a busy machine; after it: the server is gone.
          if (!running) return;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    // Kill under load once enough answers went out (polled, bounded: no race with the machine's speed).
    const deadline = Date.now() + 30_000;
    while (received.length < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    first.child.kill('SIGKILL');
    running = false;
    await Promise.all(workers);
    client.close();
    await once(first.child, 'exit');
    assert.ok(received.length > 50, `load ran (${received.length} answers)`);

    // A restart continues the chain; a clean stop seals it.
    const second = await serveVerdict(config, t.dir);
    second.child.kill('SIGTERM');
    await once(second.child, 'exit');

    const ids = new Set(readFileSync(join(t.dir, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)['verdict.decision_id']));
    const missing = received.filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], `${missing.length} answered decisions missing from the trail`);
    const v = await verdictAsyncResult(['audit', 'verify', join(t.dir, 'audit.jsonl'), '--key', pub]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const q = await verdictAsyncResult(['audit', 'query', join(t.dir, 'audit.jsonl'), '--route', 'public', '--decision', 'allow']);
    const rows = q.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(rows.length > 0 && rows.every((r) => r['verdict.route'] === 'public' && r['verdict.decision'] === 'allow'));
  });
});
