import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { factsFromCheckRequest } from '../../../src/request/from-check-request.js';
import { normalizeRequestHost } from '../../../src/request/normalize-host.js';

const req = (http: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) => ({
  attributes: { source: { address: { socket_address: { address: '10.0.0.7', port_value: 4444 } } }, request: { http }, ...extra },
});

describe('host normalization', () => {
  const cases: [string, string | undefined][] = [
    ['Grafana.Example.COM', 'grafana.example.com'],
    ['grafana.example.com:8443', 'grafana.example.com'],
    ['grafana.example.com.', 'grafana.example.com'],
    ['grafana.example.com.:443', 'grafana.example.com'],
    ['[::1]:8080', '[::1]'],
    ['[FD7A:115C::1]', '[fd7a:115c::1]'],
    ['100.101.102.103:3000', '100.101.102.103'],
    ['my_host.internal', 'my_host.internal'],
    ['', ''],
    ['evil.com@grafana.example.com', undefined],
    ['grafana.example.com/x', undefined],
    ['a b', undefined],
    ['grafana.example.com..', undefined],
    // Case folding is ASCII only: the Kelvin sign lower-cases to k, U+0130 to i + a combining dot.
    ['\u212Aibana.example.com', undefined],
    ['adm\u0130n.example.com', undefined],
    ['b\u00FCcher.example', undefined],
  ];
  for (const [raw, want] of cases) {
    it(`${JSON.stringify(raw)} → ${JSON.stringify(want)}`, () => assert.equal(normalizeRequestHost(raw), want));
  }
});

describe('factsFromCheckRequest', () => {
  it('reads method, host, path, query, headers, source and route as Envoy sends them', () => {
    const r = factsFromCheckRequest(
      req({ method: 'POST', host: 'App.Example.com:443', path: '/x//y/../z?a=1', scheme: 'https', protocol: 'HTTP/1.1', headers: { 'X-Request-Id': 'rid-1', accept: 'text/html' } }, { context_extensions: { route: 'app' } }),
      { xffTrustedHops: 0 },
    );
    assert.ok(r.ok);
    const f = r.facts;
    assert.equal(f.method, 'POST');
    assert.equal(f.host, 'app.example.com');
    assert.equal(f.path, '/x/z');
    assert.equal(f.query, 'a=1');
    assert.equal(f.headers.get('x-request-id'), 'rid-1');
    assert.equal(f.requestId, 'rid-1');
    assert.equal(f.sourceIp, '10.0.0.7');
    assert.equal(f.sourcePort, 4444);
    assert.equal(f.routeId, 'app');
    assert.equal(r.rawPath, '/x//y/../z?a=1');
  });

  it('reads header_map (encode_raw_headers) with raw_value bytes', () => {
    const r = factsFromCheckRequest(
      req({ method: 'GET', host: 'a.example.com', path: '/', header_map: { headers: [{ key: 'authorization', raw_value: Buffer.from('Bearer t') }, { key: 'x-a', value: 'v' }] } }),
      { xffTrustedHops: 0 },
    );
    assert.ok(r.ok);
    assert.equal(r.facts.headers.get('authorization'), 'Bearer t');
    assert.equal(r.facts.headers.get('x-a'), 'v');
  });

  it('ignores x-forwarded-for unless trusted hops are configured', () => {
    const http = { method: 'GET', host: 'a', path: '/', headers: { 'x-forwarded-for': '1.2.3.4, 100.64.0.9' } };
    const plain = factsFromCheckRequest(req(http), { xffTrustedHops: 0 });
    assert.ok(plain.ok);
    assert.equal(plain.facts.sourceIp, '10.0.0.7');
    const one = factsFromCheckRequest(req(http), { xffTrustedHops: 1 });
    assert.ok(one.ok);
    assert.equal(one.facts.sourceIp, '100.64.0.9');
    const two = factsFromCheckRequest(req(http), { xffTrustedHops: 2 });
    assert.ok(two.ok);
    assert.equal(two.facts.sourceIp, '1.2.3.4');
    const tooMany = factsFromCheckRequest(req(http), { xffTrustedHops: 3 });
    assert.ok(tooMany.ok);
    assert.equal(tooMany.facts.sourceIp, '10.0.0.7');
  });

  it('refuses requests without HTTP attributes, method or a sane host', () => {
    const none = factsFromCheckRequest(req(undefined), { xffTrustedHops: 0 });
    assert.equal(none.ok, false);
    assert.equal((none as { reason: string }).reason, 'bad-request');
    const noMethod = factsFromCheckRequest(req({ host: 'a', path: '/' }), { xffTrustedHops: 0 });
    assert.equal((noMethod as { reason: string }).reason, 'bad-request');
    const badHost = factsFromCheckRequest(req({ method: 'GET', host: 'a@b', path: '/' }), { xffTrustedHops: 0 });
    assert.equal((badHost as { reason: string }).reason, 'bad-request');
    const badPath = factsFromCheckRequest(req({ method: 'GET', host: 'a', path: '/%2e%2e/x' }), { xffTrustedHops: 0 });
    assert.equal((badPath as { reason: string }).reason, 'invalid-path');
    assert.equal(badPath.facts.sourceIp, '10.0.0.7', 'what could be read is kept for the audit record');
  });
});
