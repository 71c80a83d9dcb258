import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { factsFromEnvoyHttp, factsFromForwardAuth, type HttpAuthzRequest } from '../../../src/request/from-http.js';
import { compileTrustedProxies, type TrustCheck } from '../../../src/request/trusted-proxies.js';

const trust = compileTrustedProxies(['127.0.0.1/32', '10.0.0.0/8']) as TrustCheck;
const req = (headers: Record<string, string>, over: Partial<HttpAuthzRequest> = {}): HttpAuthzRequest => ({
  method: 'GET',
  url: '/forward-auth',
  headers,
  peerIp: '127.0.0.1',
  peerPort: 40000,
  ...over,
});
const refused = (r: ReturnType<typeof factsFromForwardAuth>, why: RegExp) => {
  assert.equal(r.ok, false);
  assert.equal((r as { reason: string }).reason, 'bad-request');
  assert.match((r as { detail: string }).detail, why);
};

describe('trusted proxies', () => {
  it('matches IPs and CIDRs, IPv4-mapped IPv6 included, and rejects bad entries', () => {
    assert.equal(trust('127.0.0.1'), true);
    assert.equal(trust('::ffff:10.2.3.4'), true);
    assert.equal(trust('192.168.1.1'), false);
    assert.equal(trust(undefined), false);
    assert.deepEqual(compileTrustedProxies(['10.0.0.0/8', 'nope']), { index: 1, message: 'not an IP address or CIDR: "nope"' });
    assert.equal((compileTrustedProxies([]) as TrustCheck)('127.0.0.1'), false, 'none by default');
  });
});

describe('forward-auth (nginx, Caddy, Traefik)', () => {
  it('reads X-Original-URL and X-Original-Method from a trusted peer', () => {
    const r = factsFromForwardAuth(req({ 'x-original-url': 'https://App.Example.com:8443/a//b/../c?x=1', 'x-original-method': 'POST', 'x-forwarded-for': '203.0.113.7, 100.64.0.9' }), { trusted: trust });
    assert.ok(r.ok);
    assert.equal(r.facts.method, 'POST');
    assert.equal(r.facts.scheme, 'https');
    assert.equal(r.facts.host, 'app.example.com');
    assert.equal(r.facts.path, '/a/c');
    assert.equal(r.facts.query, 'x=1');
    assert.equal(r.facts.sourceIp, '100.64.0.9', 'the hop the trusted proxy appended');
  });

  it('reads X-Forwarded-Method/-Proto/-Host/-Uri (Traefik, Caddy)', () => {
    const r = factsFromForwardAuth(req({ 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/x?y=2' }), { trusted: trust });
    assert.ok(r.ok);
    assert.equal(r.facts.path, '/x');
    assert.equal(r.facts.host, 'app.example.com');
  });

  it('refuses forwarded headers from an untrusted peer, even when complete', () => {
    refused(factsFromForwardAuth(req({ 'x-original-url': 'https://app.example.com/', 'x-original-method': 'GET' }, { peerIp: '192.168.5.5' }), { trusted: trust }), /not in http.trusted_proxies/);
  });

  it('never falls back to Host when the forwarded headers are missing', () => {
    refused(factsFromForwardAuth(req({ host: 'app.example.com' }), { trusted: trust }), /required/);
    refused(factsFromForwardAuth(req({ 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/' }), { trusted: trust }), /required/);
    refused(factsFromForwardAuth(req({ 'x-original-url': 'https://app.example.com/' }), { trusted: trust }), /Method/);
  });

  it('refuses contradicting or malformed descriptions of the original request', () => {
    refused(factsFromForwardAuth(req({ 'x-original-url': 'https://app.example.com/', 'x-original-method': 'GET', 'x-forwarded-host': 'admin.example.com' }), { trusted: trust }), /disagree/);
    refused(factsFromForwardAuth(req({ 'x-original-url': 'https://app.example.com/a', 'x-original-method': 'GET', 'x-forwarded-uri': '/b' }), { trusted: trust }), /disagree/);
    refused(factsFromForwardAuth(req({ 'x-original-url': '/relative', 'x-original-method': 'GET' }), { trusted: trust }), /absolute/);
    refused(factsFromForwardAuth(req({ 'x-original-url': 'https://evil@app.example.com/', 'x-original-method': 'GET' }), { trusted: trust }), /absolute/);
    refused(factsFromForwardAuth(req({ 'x-original-url': 'javascript://app.example.com/', 'x-original-method': 'GET' }), { trusted: trust }), /absolute/);
    // nginx passes `Host: app.example.com?` on, making `$scheme://$http_host$request_uri` read
    // as path `/` with a query: the path would not be the one the upstream gets.
    refused(factsFromForwardAuth(req({ 'x-original-url': 'http://app.example.com?/admin/secrets', 'x-original-method': 'GET' }), { trusted: trust }), /absolute/);
    refused(factsFromForwardAuth(req({ 'x-original-url': 'http://app.example.com?x=1', 'x-original-method': 'GET' }), { trusted: trust }), /absolute/);
    refused(factsFromForwardAuth(req({ 'x-forwarded-method': 'GET', 'x-forwarded-host': 'a.example.com', 'x-forwarded-uri': 'x' }), { trusted: trust }), /start with/);
  });

  it('applies the same path normalization, refusing unsafe paths', () => {
    const r = factsFromForwardAuth(req({ 'x-original-url': 'https://app.example.com/a/%2e%2e/%2e%2e/etc', 'x-original-method': 'GET' }), { trusted: trust });
    assert.equal((r as { reason: string }).reason, 'invalid-path');
  });

  it('never binds a route from a header: the client could have sent it', () => {
    const r = factsFromEnvoyHttp(req({ host: 'app.example.com', 'x-verdict-route': 'public' }, { url: '/ext-authz/' }), { trusted: trust });
    assert.ok(r.ok);
    assert.equal(r.facts.routeId, undefined);
    // forward-auth refuses it outright: no proxy could strip an unknown x-verdict-* header.
    refused(factsFromForwardAuth(req({ 'x-original-url': 'https://app.example.com/', 'x-original-method': 'GET', 'x-verdict-route': 'public' }), { trusted: trust }), /identity header/);
  });

  it('refuses identity headers forward-auth proxies cannot strip, and repeated single headers', () => {
    const base = { 'x-original-url': 'https://app.example.com/', 'x-original-method': 'GET' };
    for (const name of ['x_verdict_user', 'x-verdict_groups', 'tailscale_user_login', 'tailscale-new-thing', 'x-verdict-admin']) {
      refused(factsFromForwardAuth(req({ ...base, [name]: 'x' }), { trusted: trust }), /identity header/);
    }
    assert.ok(factsFromForwardAuth(req({ ...base, 'x-verdict-user': 'x', 'tailscale-user-login': 'y', x_other: '1' }), { trusted: trust }).ok);
    refused(factsFromForwardAuth(req(base, { rawHeaders: ['Authorization', 'Bearer a', 'authorization', 'Bearer b'] }), { trusted: trust }), /repeated authorization/);
    refused(factsFromEnvoyHttp(req({ host: 'a.example.com' }, { url: '/ext-authz/', rawHeaders: ['Host', 'a.example.com', 'HOST', 'b.example.com'] }), { trusted: trust }), /repeated host/);
  });
});

describe('Envoy http_service (/ext-authz prefix)', () => {
  it('takes method, path and host from the subrequest itself', () => {
    const r = factsFromEnvoyHttp(req({ host: 'grafana.example.com', 'x-forwarded-for': '100.64.1.1' }, { url: '/ext-authz/d/abc?orgId=1', method: 'PUT' }), { trusted: trust });
    assert.ok(r.ok);
    assert.equal(r.facts.method, 'PUT');
    assert.equal(r.facts.path, '/d/abc');
    assert.equal(r.facts.query, 'orgId=1');
    assert.equal(r.facts.host, 'grafana.example.com');
    assert.equal(r.facts.sourceIp, '100.64.1.1');
  });

  it('uses the peer address, not x-forwarded-for, from an untrusted peer; root path works', () => {
    const r = factsFromEnvoyHttp(req({ host: 'a.example.com', 'x-forwarded-for': '100.64.1.1' }, { url: '/ext-authz', peerIp: '192.168.9.9' }), { trusted: trust });
    assert.ok(r.ok);
    assert.equal(r.facts.path, '/');
    assert.equal(r.facts.sourceIp, '192.168.9.9');
  });

  it('refuses a missing host', () => {
    const r = factsFromEnvoyHttp(req({}, { url: '/ext-authz/x' }), { trusted: trust });
    assert.equal((r as { reason: string }).reason, 'bad-request');
  });
});
