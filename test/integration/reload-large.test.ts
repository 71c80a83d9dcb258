import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sizePolicy } from '../../bench/size-policy.js';
import { startTestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';

function healthz(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

describe('reload of a large policy folder', () => {
  it('keeps answering health probes and checks all through it: the old set until the swap, the new one after', async () => {
    const t = await startTestApp({ 'app.json': sizePolicy(10) });
    const client = authClient(t.app.grpcPort);
    const ROUTES = 4000;
    writeFileSync(join(t.policiesDir, 'app.json'), JSON.stringify(sizePolicy(ROUTES)));
    // The last route of the large set: not in the set in force (404 route-not-found) until
    // the swap, then its policy answers (401: no identity).
    const lastRoute = envoyCheckRequest({ host: `app${ROUTES - 1}.example.com`, path: '/api/x' });
    let reloading = true;
    const answeredAt: number[] = [];
    const healthStatuses: number[] = [];
    const checkCodes: number[] = [];
    const probe = async () => {
      while (reloading) {
        healthStatuses.push(await healthz(t.app.httpPort));
        answeredAt.push(performance.now());
      }
    };
    const check = async () => {
      while (reloading) {
        const res = await client.check(lastRoute);
        checkCodes.push(Number(res.denied_response?.status?.code));
        answeredAt.push(performance.now());
      }
    };
    try {
      const started = performance.now();
      const probes = [probe(), probe(), check()];
      const event = await t.app.reload();
      const ended = performance.now();
      reloading = false;
      await Promise.all(probes);
      assert.equal(event.ok, true, JSON.stringify(!event.ok && event.problems));
      assert.equal(t.app.policies.current.routes.length, ROUTES);

      // Every answer came, and none failed.
      assert.ok(healthStatuses.length >= 20, `health probes during the reload: ${healthStatuses.length}`);
      assert.deepEqual([...new Set(healthStatuses)], [200]);
      // The old set answered, then the new one, and never the old one again after the swap.
      const firstNew = checkCodes.indexOf(401);
      assert.ok(checkCodes[0] === 404, `the first check, as the reload began, is answered by the old set: ${checkCodes.slice(0, 5)}`);
      assert.deepEqual([...new Set(checkCodes.slice(0, firstNew < 0 ? undefined : firstNew))], [404]);
      if (firstNew >= 0) assert.deepEqual([...new Set(checkCodes.slice(firstNew))], [401], `after the swap: ${checkCodes.slice(firstNew)}`);
      const after = await client.check(lastRoute);
      assert.equal(Number(after.denied_response?.status?.code), 401, 'the new set is in force');

      // Answers kept coming through the reload: a reload that blocks the event loop shows as
      // one silence about as long as the reload itself. Relative, not a latency bound (the
      // machine's own stalls vary with its load; bench/ measures the latency).
      const times = [started, ...answeredAt.filter((a) => a <= ended), ended].sort((a, b) => a - b);
      const silence = Math.max(...times.slice(1).map((a, i) => a - times[i]!));
      assert.ok(silence < (ended - started) / 4, `longest silence ${silence.toFixed(0)} ms in a reload of ${(ended - started).toFixed(0)} ms`);
    } finally {
      reloading = false;
      client.close();
      await t.app.stop();
    }
  });
});
