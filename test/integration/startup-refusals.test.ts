import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEMO_POLICY } from '../helpers/app.js';
import { verdictAsyncResult } from '../helpers/cli.js';
import { freePort } from '../helpers/nginx.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'a'.repeat(43);

describe('serve refuses to start, within a bound, when a dependency is away', () => {
  it('Redis unreachable at start: exit 2 after identity.session.store.connect_timeout, STORE_UNAVAILABLE naming the pointer', async () => {
    const t = tempDir();
    t.write('policies/p.json', DEMO_POLICY);
    const port = await freePort(); // nothing listens there
    const config = t.write('v.json', {
      grpc: { listen: '127.0.0.1:0' },
      http: { listen: '127.0.0.1:0' },
      audit: { sink: 'stdout' },
      identity: {
        oidc: { issuer: 'http://127.0.0.1:9/', client_id: 'verdict', client_secret: 'x', public_scheme: 'http', allow_insecure_http: true },
        session: { keys: [KEY], store: { type: 'redis', url: `redis://127.0.0.1:${port}`, connect_timeout: '1s' } },
      },
    });
    const started = Date.now();
    const r = await verdictAsyncResult(['serve', '--config', config], { cwd: t.dir });
    const took = Date.now() - started;
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^verdict: refusing to start: \S*\/v\.json:\/identity\/session\/store\/url: cannot connect to Redis \(STORE_UNAVAILABLE\): no connection within 1000 ms/m);
    assert.doesNotMatch(r.stdout, /verdict serving/);
    assert.ok(took >= 1000, `waited the connect timeout (${took} ms)`);
  });
});
