import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest, headerValue } from '../helpers/envoy-client.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * tailscaled's LocalAPI is not available here, so this unix-socket server speaks its
 * documented whois contract: `GET /localapi/v0/whois?addr=<ip:port>` answers
 * `{"Node": {"Name", "Tags", …}, "UserProfile": {"LoginName", …}}`, 404 for unknown peers.
 */
const PEERS: Record<string, unknown> = {
  '100.64.5.6': { Node: { ID: 1, StableID: 'n1', Name: 'laptop.tail1234.ts.net.', Addresses: ['100.64.5.6/32'], Tags: [] }, UserProfile: { ID: 7, LoginName: 'alice@example.com', DisplayName: 'Alice' } },
  '100.64.9.9': { Node: { ID: 2, StableID: 'n2', Name: 'ci-runner.tail1234.ts.net.', Addresses: ['100.64.9.9/32'], Tags: ['tag:ci'] }, UserProfile: { ID: 8, LoginName: 'tagged-devices', DisplayName: 'tagged devices' } },
};

const POLICY = {
  version: 1,
  routes: [
    { id: 'people', match: { hosts: ['wiki.example.com'] }, allow: { tailnet_user: { ends_with: '@example.com' } } },
    { id: 'ci', match: { hosts: ['ci.example.com'] }, allow: { tailnet_tags: { has: 'tag:ci' } } },
  ],
};

describe('tailnet identity from tailscaled LocalAPI whois (a local server speaking its contract)', () => {
  let whois: Server;
  let t: TestApp;
  let client: ReturnType<typeof authClient>;
  const asked: string[] = [];

  before(async () => {
    const socket = join(tempDir('verdict-ts-').dir, 'tailscaled.sock');
    whois = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://local-tailscaled.sock');
      if (url.pathname !== '/localapi/v0/whois') return void res.writeHead(404).end();
      const addr = url.searchParams.get('addr') ?? '';
      asked.push(addr);
      const peer = PEERS[addr.replace(/:\d+$/, '')];
      if (!peer) return void res.writeHead(404).end('no match for IP:port');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(peer));
    });
    await new Promise<void>((r) => whois.listen(socket, r));
    t = await startTestApp({ 'p.json': POLICY }, { tailnet: { localapi_socket: socket, cache_ttl: '30s' } });
    client = authClient(t.app.grpcPort);
  });
  after(async () => {
    client.close();
    await t.app.stop();
    whois.close();
  });

  const ask = (host: string, sourceIp: string, destination = '100.100.1.1', headers: Record<string, string> = {}) => {
    const req = envoyCheckRequest({ host, sourceIp, headers }) as { attributes: { destination: unknown } };
    req.attributes.destination = { address: { socket_address: { address: destination, port_value: 443 } } };
    return client.check(req);
  };

  it('allows by the owner of the tailnet node, and by ACL tags', async () => {
    const res = await ask('wiki.example.com', '100.64.5.6');
    assert.equal(res.status?.code ?? 0, 0);
    assert.deepEqual(res.dynamic_metadata?.fields?.reasons?.listValue?.values.map((v) => v.stringValue), ['tailnet-user-ok']);
    assert.equal((await ask('ci.example.com', '100.64.9.9')).status?.code ?? 0, 0);
    const tagged = await ask('wiki.example.com', '100.64.9.9');
    assert.equal(Number(tagged.denied_response?.status?.code), 403, 'a tagged device has no user');
  });

  it('a whois that finds nothing is unauthenticated, never a match', async () => {
    const res = await ask('wiki.example.com', '100.64.77.77', '100.100.1.1', { accept: 'text/html' });
    assert.equal(Number(res.denied_response?.status?.code), 401);
    assert.deepEqual(res.dynamic_metadata?.fields?.reasons?.listValue?.values.map((v) => v.stringValue), ['tailnet-unauthenticated']);
  });

  it('answers only for tailnet-facing listeners: elsewhere nobody is asked', async () => {
    const before = asked.length;
    const res = await ask('wiki.example.com', '100.64.5.6', '203.0.113.10');
    assert.equal(Number(res.denied_response?.status?.code), 401);
    assert.equal(asked.length, before, 'no whois for a public listener');
  });

  it('never trusts Tailscale-User-* headers, and strips them upstream', async () => {
    const res = await ask('wiki.example.com', '100.64.5.6', '100.100.1.1', { 'tailscale-user-login': 'root@example.com' });
    assert.equal(res.status?.code ?? 0, 0);
    assert.ok(res.ok_response!.headers_to_remove!.includes('tailscale-user-login'));
    const spoof = await ask('wiki.example.com', '100.64.77.77', '100.100.1.1', { 'tailscale-user-login': 'alice@example.com' });
    assert.equal(Number(spoof.denied_response?.status?.code), 401);
    assert.equal(headerValue(spoof.denied_response?.headers, 'x-verdict-user'), undefined);
  });

  it('caches answers briefly and audits the tailnet peer', async () => {
    const n = asked.filter((a) => a.startsWith('100.64.5.6')).length;
    await ask('wiki.example.com', '100.64.5.6');
    assert.equal(asked.filter((a) => a.startsWith('100.64.5.6')).length, n, 'served from the cache');
    await t.app.stop();
    const r = t.records().find((x) => x['verdict.tailnet.node'] === 'laptop.tail1234.ts.net');
    assert.equal(r?.['verdict.tailnet.user'], 'alice@example.com');
  });
});

describe('tailnet identity with request.xff_trusted_hops (a proxy in front of the public listener)', () => {
  let whois: Server;
  let t: TestApp;
  let client: ReturnType<typeof authClient>;
  const asked: string[] = [];

  before(async () => {
    const socket = join(tempDir('verdict-ts-xff-').dir, 'tailscaled.sock');
    whois = createServer((req, res) => {
      const addr = new URL(req.url ?? '/', 'http://local-tailscaled.sock').searchParams.get('addr') ?? '';
      asked.push(addr);
      const peer = PEERS[addr.replace(/:\d+$/, '')];
      if (!peer) return void res.writeHead(404).end('no match for IP:port');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(peer));
    });
    await new Promise<void>((r) => whois.listen(socket, r));
    t = await startTestApp({ 'p.json': POLICY }, { tailnet: { localapi_socket: socket, cache_ttl: '30s' }, request: { xff_trusted_hops: 2 } });
    client = authClient(t.app.grpcPort);
  });
  after(async () => {
    client.close();
    await t.app.stop();
    whois.close();
  });

  it("a tailnet node that writes another node's address into x-forwarded-for is looked up as itself", async () => {
    // 100.64.77.77 connects to the tailnet listener directly and sends `X-Forwarded-For: 100.64.5.6`;
    // Envoy appends the peer it saw. Two trusted hops read the client's own entry as the client.
    const req = envoyCheckRequest({ host: 'wiki.example.com', sourceIp: '100.64.77.77', headers: { 'x-forwarded-for': '100.64.5.6, 100.64.77.77', accept: 'application/json' } }) as { attributes: { destination: unknown } };
    req.attributes.destination = { address: { socket_address: { address: '100.100.1.1', port_value: 443 } } };
    const res = await client.check(req);
    assert.equal(Number(res.denied_response?.status?.code), 401, "not alice's laptop: the peer is 100.64.77.77, which whois does not know");
    assert.deepEqual(asked.map((a) => a.replace(/:\d+$/, '')), ['100.64.77.77'], 'whois is asked about the connection peer only');
    // The real peer still gets its identity.
    const own = envoyCheckRequest({ host: 'wiki.example.com', sourceIp: '100.64.5.6', headers: { 'x-forwarded-for': '203.0.113.9, 100.64.5.6' } }) as { attributes: { destination: unknown } };
    own.attributes.destination = { address: { socket_address: { address: '100.100.1.1', port_value: 443 } } };
    assert.equal((await client.check(own)).status?.code ?? 0, 0);
  });
});
