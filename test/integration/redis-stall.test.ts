import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { httpRequest } from '../helpers/http.js';
import { loginThroughCheck, status } from '../helpers/login.js';
import { TestOidcProvider } from '../helpers/oidc-idp.js';
import { startRedis } from '../helpers/redis.js';
import { sessionKey } from '../helpers/sessions.js';
import { hasTool, requireTool } from '../helpers/tools.js';

async function until(what: string, cond: () => Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - start;
}

/**
 * What both suites freeze: a test IdP for the login, Debian's redis-server as the session store
 * (its commands bounded by `commandTimeout`), Verdict with HTTP mode bounded by check_timeout 1s.
 */
function frozenRedisStack(commandTimeout: string) {
  const s = {} as { idp?: TestOidcProvider; redis?: Awaited<ReturnType<typeof startRedis>>; t: TestApp; client: ReturnType<typeof authClient> };
  before(async () => {
    if (!hasTool('redis-server')) return;
    s.idp = await TestOidcProvider.start({ redirectUris: ['http://grafana.example.com/.verdict/callback'] });
    s.redis = await startRedis();
    s.t = await startTestApp(
      { 'demo.json': DEMO_POLICY },
      {
        http: { listen: '127.0.0.1:0', check_timeout: '1s' },
        identity: {
          oidc: { issuer: s.idp.issuer, client_id: 'verdict', client_secret: 'verdict-test-secret', scopes: ['openid', 'email', 'groups'], public_scheme: 'http', allow_insecure_http: true },
          session: { keys: [sessionKey()], store: { type: 'redis', url: s.redis.url, command_timeout: commandTimeout } },
        },
      },
    );
    s.client = authClient(s.t.app.grpcPort);
  });
  after(async () => {
    s.redis?.resume();
    s.client?.close();
    await s.t?.app.stop();
    await s.redis?.stop();
    await s.idp?.close();
  });
  return s;
}

describe('a frozen Redis (SIGSTOP): readiness, deadlines, recovery', () => {
  const s = frozenRedisStack('500ms');

  it('turns /readyz not ready within seconds, answers every check 503 within its deadline (gRPC and HTTP), recovers on SIGCONT', async (tt) => {
    if (!requireTool(tt, 'redis-server')) return;
    const { cookie } = await loginThroughCheck(s.client, 'alice');
    const readyz = async () => (await fetch(`http://127.0.0.1:${s.t.app.httpPort}/readyz`)).status;
    assert.equal(await readyz(), 200);
    const grpcCheck = () => s.client.check(envoyCheckRequest({ headers: { cookie, accept: 'application/json' } }), 1000);
    assert.equal(status(await grpcCheck()), 200, 'the session works before the freeze');

    s.redis!.pause();
    const notReadyAfterMs = await until('/readyz to report not ready', async () => (await readyz()) === 503, 5000);
    tt.diagnostic(`not ready ${notReadyAfterMs} ms after SIGSTOP`);

    // gRPC with a 1 s deadline: Verdict's own 503, never DEADLINE_EXCEEDED, never an allow.
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 50 }, () => grpcCheck()));
    for (const a of answers) assert.equal(status(a), 503);
    assert.ok(Date.now() - started < 1500, 'all answered within the deadline (each call carries a 1 s deadline, so a 503 already means in time)');

    // HTTP mode has no deadline from the caller: http.check_timeout (1 s here) bounds it.
    const httpStarted = Date.now();
    const res = await httpRequest(`http://127.0.0.1:${s.t.app.httpPort}/ext-authz/`, { headers: { host: 'grafana.example.com', cookie, accept: 'application/json' } });
    assert.equal(res.status, 503);
    assert.ok(Date.now() - httpStarted < 2500, `HTTP check answered in ${Date.now() - httpStarted} ms`);

    s.redis!.resume();
    const readyAfterMs = await until('/readyz to be ready again', async () => (await readyz()) === 200, 5000);
    tt.diagnostic(`ready again ${readyAfterMs} ms after SIGCONT`);
    await until('the session to work again', async () => status(await grpcCheck()) === 200, 5000);
  });
});

describe('http.check_timeout bounds an HTTP-mode check that waits on a frozen Redis', () => {
  // The command timeout is far longer than the check bound: only http.check_timeout can
  // answer this check in time.
  const s = frozenRedisStack('30s');

  it('answers 503 after about http.check_timeout, not after the freeze', async (tt) => {
    if (!requireTool(tt, 'redis-server')) return;
    const { cookie } = await loginThroughCheck(s.client, 'alice');
    const check = () => httpRequest(`http://127.0.0.1:${s.t.app.httpPort}/ext-authz/`, { headers: { host: 'grafana.example.com', cookie, accept: 'application/json' } });
    assert.equal((await check()).status, 200, 'the session works before the freeze');
    s.redis!.pause();
    const started = Date.now();
    const res = await check();
    const took = Date.now() - started;
    tt.diagnostic(`HTTP check answered ${res.status} in ${took} ms during the freeze`);
    assert.equal(res.status, 503);
    assert.ok(took >= 500 && took < 4000, `answered by the 1 s bound, took ${took} ms`);
    s.redis!.resume();
    await until('the session to work again', async () => (await check()).status === 200, 5000);
  });
});
