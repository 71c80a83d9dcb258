import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest, headerValue, type CheckResponseJs } from '../helpers/envoy-client.js';
import { TestIssuer } from '../helpers/idp.js';

describe('ext_authz Check over a real gRPC connection', () => {
  let idp: TestIssuer;
  let slowIdp: TestIssuer;
  let t: TestApp;
  let client: ReturnType<typeof authClient>;
  const ids: string[] = [];
  const check = async (req: Record<string, unknown>, deadline?: number): Promise<CheckResponseJs> => {
    const res = await client.check(req, deadline);
    const id = res.dynamic_metadata?.fields?.decision_id?.stringValue;
    if (id) ids.push(id);
    return res;
  };

  before(async () => {
    idp = await TestIssuer.start();
    slowIdp = await TestIssuer.start(['RS256']);
    slowIdp.delayMs = 3000;
    t = await startTestApp(
      {
        'demo.json': DEMO_POLICY,
        'shadow.json': { version: 1, routes: [{ id: 'shadowed', match: { hosts: ['shadowed.example.com'] }, allow: { authenticated_user: true }, shadow: { allow: { groups: { has: 'admins' } } } }] },
      },
      {
        identity: {
          jwt: [
            { issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'] },
            { issuer: slowIdp.issuer, jwks_uri: slowIdp.jwksUri, audiences: ['verdict'], jwks_timeout: '10s' },
          ],
        },
      },
    );
    client = authClient(t.app.grpcPort);
  });
  after(async () => {
    client.close();
    await t.app.stop();
    await idp.close();
    slowIdp.server?.closeAllConnections();
    await slowIdp.close();
  });

  it('allows a member of sre, sets identity headers with overwrite, strips spoofed ones', async () => {
    const token = await idp.token({ sub: 'alice', email: 'alice@example.com', groups: ['sre', 'dev'] });
    const res = await check(
      envoyCheckRequest({
        path: '/d/abc?orgId=1',
        headers: { authorization: `Bearer ${token}`, 'x-verdict-user': 'mallory', 'x-verdict-admin': 'true' },
      }),
    );
    assert.equal(res.status?.code ?? 0, 0);
    assert.ok(res.ok_response, 'ok_response set');
    assert.equal(res.denied_response, undefined);
    const headers = res.ok_response!.headers!;
    assert.equal(headerValue(headers, 'x-verdict-user'), 'alice');
    assert.equal(headerValue(headers, 'x-verdict-email'), 'alice@example.com');
    assert.equal(headerValue(headers, 'x-verdict-groups'), 'sre,dev');
    assert.match(headerValue(headers, 'x-verdict-decision-id')!, /^[0-9a-f-]{36}$/);
    for (const h of headers) assert.deepEqual(h.append, { value: false }, `append false on ${h.header.key}`);
    // x-verdict-user is overwritten by Verdict; x-verdict-admin is not ours to keep.
    assert.deepEqual(res.ok_response!.headers_to_remove, ['x-verdict-admin']);
  });

  it('delivers dynamic_metadata with decision id, route, decision and reasons', async () => {
    const token = await idp.token({ groups: ['sre'] });
    const res = await check(envoyCheckRequest({ headers: { authorization: `Bearer ${token}` } }));
    const f = res.dynamic_metadata?.fields;
    assert.ok(f, 'dynamic_metadata arrived');
    assert.equal(f.route?.stringValue, 'grafana');
    assert.equal(f.decision?.stringValue, 'allow');
    assert.deepEqual(f.reasons?.listValue?.values.map((v) => v.stringValue), ['groups-ok']);
    assert.equal(f.decision_id?.stringValue, headerValue(res.ok_response!.headers, 'x-verdict-decision-id'));
  });

  it('answers 401 with www-authenticate to an anonymous caller', async () => {
    const res = await check(envoyCheckRequest({}));
    assert.equal(res.status?.code, 16);
    assert.equal(Number(res.denied_response?.status?.code), 401);
    assert.equal(headerValue(res.denied_response?.headers, 'www-authenticate'), 'Bearer realm="verdict"');
    const body = JSON.parse(res.denied_response!.body!) as { error: string; decision_id: string; reasons: string[] };
    assert.equal(body.error, 'unauthenticated');
    assert.deepEqual(body.reasons, ['user-unauthenticated']);
    assert.equal(body.decision_id, headerValue(res.denied_response?.headers, 'x-verdict-decision-id'));
  });

  it('answers 401 invalid_token for a forged token and never uses its claims', async () => {
    const token = await idp.token({ groups: ['sre'] });
    const [h, p] = token.split('.');
    const forged = `${h}.${p}.${Buffer.from('not the signature').toString('base64url')}`;
    const res = await check(envoyCheckRequest({ headers: { authorization: `Bearer ${forged}` } }));
    assert.equal(Number(res.denied_response?.status?.code), 401);
    assert.equal(headerValue(res.denied_response?.headers, 'www-authenticate'), 'Bearer realm="verdict", error="invalid_token"');
    assert.deepEqual(res.dynamic_metadata?.fields?.reasons?.listValue?.values.map((v) => v.stringValue), ['invalid-token', 'user-unauthenticated']);
    assert.equal(res.dynamic_metadata?.fields?.user, undefined);
  });

  it('answers 403 to a verified user outside the groups, and to DELETE', async () => {
    const dev = await idp.token({ sub: 'bob', email: 'bob@example.com', groups: ['dev'] });
    const res = await check(envoyCheckRequest({ headers: { authorization: `Bearer ${dev}` } }));
    assert.equal(res.status?.code, 7);
    assert.equal(Number(res.denied_response?.status?.code), 403);
    const sre = await idp.token({ groups: ['sre'] });
    const del = await check(envoyCheckRequest({ method: 'DELETE', headers: { authorization: `Bearer ${sre}` } }));
    assert.equal(Number(del.denied_response?.status?.code), 403);
    assert.deepEqual(JSON.parse(del.denied_response!.body!).reasons, ['http-method-ok']);
  });

  it('serves an HTML deny page to browsers', async () => {
    const res = await check(envoyCheckRequest({ host: 'nowhere.example.com', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } }));
    assert.equal(Number(res.denied_response?.status?.code), 404);
    assert.match(headerValue(res.denied_response?.headers, 'content-type')!, /^text\/html/);
    assert.match(res.denied_response!.body!, /route-not-found/);
    assert.ok(res.denied_response!.body!.includes(headerValue(res.denied_response?.headers, 'x-verdict-decision-id')!));
  });

  it('binds a request to a policy by context_extensions.route, ignoring the URL', async () => {
    const res = await check(envoyCheckRequest({ host: 'grafana.example.com', route: 'public' }));
    assert.equal(res.status?.code ?? 0, 0);
    assert.equal(res.dynamic_metadata?.fields?.route?.stringValue, 'public');
    const unknown = await check(envoyCheckRequest({ route: 'no-such-route' }));
    assert.equal(Number(unknown.denied_response?.status?.code), 404);
  });

  it('denies a CheckRequest without HTTP attributes (network filter) with 400', async () => {
    const res = await check({ attributes: { source: { address: { socket_address: { address: '10.0.0.1', port_value: 1234 } } } } });
    assert.notEqual(res.status?.code ?? 0, 0);
    assert.equal(Number(res.denied_response?.status?.code), 400);
    assert.deepEqual(JSON.parse(res.denied_response!.body!).reasons, ['bad-request']);
  });

  it('denies an empty CheckRequest instead of allowing it', async () => {
    const res = await check({});
    assert.notEqual(res.status?.code ?? 0, 0);
    assert.equal(res.ok_response, undefined);
  });

  it('refuses unsafe paths with 400 invalid-path', async () => {
    for (const path of ['/a/%2e%2e/%2e%2e/etc', '/admin%2Fsecret', '/a\\b', '/a%00b', '/a%zz', '/..']) {
      const res = await check(envoyCheckRequest({ path, host: 'status.example.com' }));
      assert.equal(Number(res.denied_response?.status?.code), 400, path);
      assert.deepEqual(JSON.parse(res.denied_response!.body!).reasons, ['invalid-path'], path);
    }
  });

  it('refuses path parameters (;) and dot segments carrying them with 400 invalid-path', async () => {
    for (const path of ['/public/..;/admin', '/x/.;x/y', '/x/%2e%2e;/y', '/x/..;jsessionid=1/y', '/admin;x=1', '/admin;', '/a%3Bb']) {
      for (const routed of [{}, { route: 'public' }]) {
        const res = await check(envoyCheckRequest({ path, host: 'status.example.com', ...routed }));
        assert.equal(Number(res.denied_response?.status?.code), 400, path);
        assert.deepEqual(JSON.parse(res.denied_response!.body!).reasons, ['invalid-path'], path);
      }
    }
  });

  it('answers 503 internal-error, not allow, when identity cannot be had before the deadline', async () => {
    // The first token of this issuer needs its JWKS, which takes 3 s to arrive.
    const token = await slowIdp.token({ groups: ['sre'] });
    const started = Date.now();
    const res = await check(envoyCheckRequest({ headers: { authorization: `Bearer ${token}` } }), 400);
    assert.ok(Date.now() - started < 1500, 'answered before the JWKS came back');
    assert.equal(Number(res.denied_response?.status?.code), 503);
    assert.deepEqual(JSON.parse(res.denied_response!.body!).reasons, ['internal-error']);
  });

  it('reports SERVING on grpc.health.v1 for "" and the Authorization service, Check and Watch', async () => {
    const Health = grpc.makeGenericClientConstructor(
      (await import('grpc-health-check')).service as grpc.ServiceDefinition,
      'Health',
    );
    void HealthImplementation;
    const health = new Health(`127.0.0.1:${t.app.grpcPort}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      check(req: { service: string }, cb: (e: Error | null, r: { status: string }) => void): void;
      watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
    };
    try {
      for (const service of ['', 'envoy.service.auth.v3.Authorization']) {
        const r = await new Promise<{ status: string }>((res, rej) => health.check({ service }, (e, v) => (e ? rej(e) : res(v))));
        assert.equal(r.status, 'SERVING', service);
      }
      const stream = health.watch({ service: 'envoy.service.auth.v3.Authorization' });
      const first = await new Promise<{ status: string }>((res, rej) => {
        stream.once('data', res);
        stream.once('error', rej);
      });
      assert.equal(first.status, 'SERVING');
      stream.cancel();
    } finally {
      health.close();
    }
  });

  it('a shadow policy is audited and counted, never enforced', async () => {
    const token = await idp.token({ sub: 'alice', groups: ['sre'] });
    const res = await check(envoyCheckRequest({ host: 'shadowed.example.com', headers: { authorization: `Bearer ${token}` } }));
    assert.equal(res.status?.code ?? 0, 0, 'enforced: allow');
    const metrics = await t.app.metrics.registry.getSingleMetricAsString('verdict_shadow_decisions_total');
    assert.match(metrics, /route="shadowed",differs="true"} 1/);
  });

  it('audits every decision id it returned, without tokens', async () => {
    await t.app.stop();
    const records = t.records();
    const decisions = records.filter((r) => r['event.action'] === 'authorize');
    const audited = new Set(decisions.map((r) => r['verdict.decision_id']));
    assert.ok(ids.length >= 10);
    const missing = ids.filter((id) => !audited.has(id));
    assert.deepEqual(missing, [], `${missing.length} of ${ids.length} decisions not audited (${audited.size} records)`);
    // Checkpoint signatures (JWS, with the key serve generated) are the trail's own, not tokens.
    const text = JSON.stringify(records.map(({ 'verdict.checkpoint': _signed, ...r }) => r));
    assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}/, 'no JWT in the audit trail');
    assert.doesNotMatch(text, /Bearer/i);
    const allow = decisions.find((r) => r['verdict.decision'] === 'allow' && r['user.id'] === 'alice')!;
    assert.equal(allow['verdict.auth_method'], 'jwt');
    assert.equal(allow['http.response.status_code'], 200);
    assert.equal(allow['url.path'], '/d/abc');
    assert.equal(allow['url.query'], undefined, 'query strings only on opt-in');
    assert.equal(allow['server.address'], 'grafana.example.com');
    assert.equal(allow['client.address'], '100.101.1.2');
    assert.equal(allow['client.port'], 51234);
    assert.match(String(allow['http.request.id']), /^req-/);
    assert.match(String(allow.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.match(String(allow['verdict.policy_hash']), /^[0-9a-f]{64}$/);
    assert.deepEqual(allow['user.roles'], ['sre', 'dev']);
    assert.ok(records.some((r) => r['event.action'] === 'start'));
    assert.ok(records.some((r) => r['event.action'] === 'shutdown'));
    const shadowed = decisions.find((r) => r['verdict.route'] === 'shadowed')!;
    assert.equal(shadowed['verdict.decision'], 'allow');
    assert.equal(shadowed['verdict.shadow.decision'], 'deny');
    assert.equal(shadowed['verdict.shadow.differs'], true);
    assert.deepEqual(shadowed['verdict.shadow.reasons'], ['groups-unauthorized']);
  });
});
