import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { httpRequest, rawHttp } from '../helpers/http.js';
import { TestIssuer } from '../helpers/idp.js';
import { freePort, startNginx } from '../helpers/nginx.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';
import { isIdentityHeaderName } from '../../src/request/identity-header-names.js';

/** The nginx snippet docs/http-modes.md documents, with ports filled in. */
export function nginxAuthRequestConfig(listen: number, verdictHttp: number, upstream: number, withLogin = false, underscores = false): string {
  const login = withLogin
    ? `
    location /.verdict/ {
      proxy_pass http://127.0.0.1:${verdictHttp};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
    location @verdict_login {
      return 302 /.verdict/login?rd=$request_uri;
    }
    location @verdict_denied {
      default_type text/html;
      add_header X-Verdict-Decision-Id $verdict_decision always;
      return 403 "<!doctype html><h1>Access denied</h1><p>Decision id: <code>$verdict_decision</code></p>";
    }`
    : '';
  return `
  server {
    listen 127.0.0.1:${listen};${underscores ? '\n    underscores_in_headers on;' : ''}${login}
    location = /_verdict {
      internal;
      proxy_pass http://127.0.0.1:${verdictHttp}/forward-auth?login=status;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
    location / {
      auth_request /_verdict;${withLogin ? '\n      error_page 401 = @verdict_login;\n      error_page 403 = @verdict_denied;' : ''}
      auth_request_set $verdict_user $upstream_http_x_verdict_user;
      auth_request_set $verdict_email $upstream_http_x_verdict_email;
      auth_request_set $verdict_groups $upstream_http_x_verdict_groups;
      auth_request_set $verdict_decision $upstream_http_x_verdict_decision_id;
      auth_request_set $verdict_assertion $upstream_http_x_verdict_jwt_assertion;
      proxy_set_header X-Verdict-User $verdict_user;
      proxy_set_header X-Verdict-Email $verdict_email;
      proxy_set_header X-Verdict-Groups $verdict_groups;
      proxy_set_header X-Verdict-Decision-Id $verdict_decision;
      proxy_set_header X-Verdict-Jwt-Assertion $verdict_assertion;
      proxy_set_header Tailscale-User-Login "";
      proxy_set_header Tailscale-User-Name "";
      proxy_set_header Tailscale-User-Profile-Pic "";
      proxy_set_header Tailscale-App-Capabilities "";
      proxy_set_header Tailscale-Funnel-Request "";
      proxy_set_header Tailscale-Headers-Info "";${withLogin ? '\n      auth_request_set $verdict_cookie $upstream_http_x_verdict_upstream_cookie;\n      proxy_set_header Cookie $verdict_cookie;' : ''}
      add_header X-Verdict-Decision-Id $verdict_decision always;
      proxy_pass http://127.0.0.1:${upstream};
    }
  }`;
}

describe('nginx auth_request in front of an upstream, deciding with Verdict', () => {
  let idp: TestIssuer;
  let t: TestApp;
  let upstream: Server;
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  let port = 0;
  const upstreamPaths: string[] = [];

  before(async () => {
    idp = await TestIssuer.start(['ES256']);
    t = await startTestApp(
      { 'demo.json': DEMO_POLICY },
      { http: { listen: '127.0.0.1:0', trusted_proxies: ['127.0.0.1/32'] }, identity: { jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] }] } },
    );
    // The upstream echoes the identity headers it received.
    upstream = createServer((req, res) => {
      upstreamPaths.push(req.url ?? '');
      const seen = Object.fromEntries(Object.entries(req.headers).filter(([k]) => isIdentityHeaderName(k)));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, headers: seen }));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    port = await freePort();
  });
  after(async () => {
    await nginx?.stop();
    upstream.close();
    await t.app.stop();
    await idp.close();
  });

  it('with underscores_in_headers on, Verdict refuses underscore spellings nginx would pass', async (ctx) => {
    if (!requireTool(ctx, '/usr/sbin/nginx', 'apt-get install nginx-light')) return;
    const p2 = await freePort();
    const lax = await startNginx(tempDir('verdict-nginx-').dir, p2, nginxAuthRequestConfig(p2, t.app.httpPort, (upstream.address() as AddressInfo).port, false, true));
    try {
      for (const name of ['x_verdict_user', 'X_Verdict_Groups', 'Tailscale_User_Login']) {
        const r = await httpRequest(`http://127.0.0.1:${p2}/`, { headers: { host: 'status.example.com', [name]: 'mallory' } });
        assert.notEqual(r.status, 200, `${name} is refused (nginx shows Verdict's 400 as 500)`);
        assert.doesNotMatch(r.body, /"headers"/, 'the upstream was not reached');
      }
      const ok = await httpRequest(`http://127.0.0.1:${p2}/`, { headers: { host: 'status.example.com', x_other_header: '1' } });
      assert.equal(ok.status, 200, 'other underscore headers are fine');
    } finally {
      await lax.stop();
    }
  });

  it('allows, denies and passes only Verdict identity headers upstream', async (ctx) => {
    if (!requireTool(ctx, 'nginx')) return;
    const dir = tempDir('verdict-nginx-').dir;
    nginx = await startNginx(dir, port, nginxAuthRequestConfig(port, t.app.httpPort, (upstream.address() as AddressInfo).port));
    const base = `http://127.0.0.1:${port}`;

    const sre = await idp.token({ sub: 'alice', email: 'alice@example.com', groups: ['sre'] });
    const ok = await httpRequest(`${base}/d/abc`, { headers: { host: 'grafana.example.com', authorization: `Bearer ${sre}`, 'x-verdict-user': 'mallory', 'x-verdict-groups': 'admins' } });
    assert.equal(ok.status, 200, ok.body);
    const echo = JSON.parse(ok.body) as { headers: Record<string, string> };
    assert.equal(echo.headers['x-verdict-user'], 'alice');
    assert.equal(echo.headers['x-verdict-groups'], 'sre');
    assert.equal(echo.headers['x-verdict-email'], 'alice@example.com');

    const pub = await httpRequest(`${base}/`, { headers: { host: 'status.example.com', 'x-verdict-user': 'mallory' } });
    assert.equal(pub.status, 200);
    assert.equal((JSON.parse(pub.body) as { headers: Record<string, string> }).headers['x-verdict-user'], undefined, 'a spoofed user header never reaches the upstream');

    const anon = await httpRequest(`${base}/`, { headers: { host: 'grafana.example.com' } });
    assert.equal(anon.status, 401);
    assert.match(String(anon.headers['x-verdict-decision-id']), /^[0-9a-f-]{36}$/);

    const dev = await idp.token({ sub: 'bob', groups: ['dev'] });
    const forbidden = await httpRequest(`${base}/`, { headers: { host: 'grafana.example.com', authorization: `Bearer ${dev}` } });
    assert.equal(forbidden.status, 403);

    const sneaky = await httpRequest(`${base}/a/%2e%2e/%2e%2e/etc/passwd`, { headers: { host: 'status.example.com' } });

    assert.notEqual(sneaky.status, 200, `an unsafe path is not let through: ${sneaky.body}`);

    // Values beyond Latin-1 arrive percent-encoded (nginx used to answer 500 here).
    const intl = await idp.token({ sub: 'Ιωάννης 🦄', email: 'иван@пример.рф', groups: ['sre', 'Админы'] });
    const enc = await httpRequest(`${base}/d/abc`, { headers: { host: 'grafana.example.com', authorization: `Bearer ${intl}` } });
    assert.equal(enc.status, 200, enc.body);
    const encSeen = (JSON.parse(enc.body) as { headers: Record<string, string> }).headers;
    assert.equal(decodeURIComponent(encSeen['x-verdict-user']!), 'Ιωάννης 🦄');
    assert.equal(decodeURIComponent(encSeen['x-verdict-email']!), 'иван@пример.рф');
    assert.deepEqual(encSeen['x-verdict-groups']!.split(',').map(decodeURIComponent), ['sre', 'Админы']);

    // Every spelling of an identity header: none reaches the upstream but Verdict's own values.
    const variants: Record<string, string> = {
      'X-VERDICT-USER': 'mallory', 'X-Verdict-Email': 'm@evil.com', 'x-verdict-jwt-assertion': 'eyJforged', 'X-Verdict-Decision-Id': 'forged',
      'Tailscale-User-Login': 'boss@example.com', 'Tailscale-User-Name': 'Boss', 'Tailscale-User-Profile-Pic': 'x', 'Tailscale-App-Capabilities': '{}', 'Tailscale-Funnel-Request': '?1', 'Tailscale-Headers-Info': 'x',
    };
    const spoof = await httpRequest(`${base}/d/abc`, { headers: { host: 'grafana.example.com', authorization: `Bearer ${sre}`, ...variants } });
    assert.equal(spoof.status, 200, spoof.body);
    const got = (JSON.parse(spoof.body) as { headers: Record<string, string> }).headers;
    assert.deepEqual(Object.keys(got).sort(), ['x-verdict-decision-id', 'x-verdict-email', 'x-verdict-groups', 'x-verdict-user']);
    assert.equal(got['x-verdict-user'], 'alice');
    assert.notEqual(got['x-verdict-decision-id'], 'forged');
    // Underscore spellings (nginx drops them by default) and unknown names nginx cannot strip: never upstream.
    for (const name of ['x_verdict_user', 'X-Verdict_User', 'Tailscale_User_Login', 'tailscale-user-something', 'x-verdict-admin']) {
      const r = await httpRequest(`${base}/`, { headers: { host: 'status.example.com', [name]: 'mallory' } });
      const seen = r.status === 200 ? (JSON.parse(r.body) as { headers: Record<string, string> }).headers : {};
      assert.deepEqual(Object.keys(seen).filter((k) => k !== 'x-verdict-decision-id'), [], `${name} (${r.status}) never reaches the upstream`);
    }

    // A repeated Authorization or Host never passes: nginx or Verdict refuses it, either order.
    for (const [a, b] of [[sre, dev], [dev, sre]]) {
      const twice = await rawHttp(port, `GET /d HTTP/1.1\r\nhost: grafana.example.com\r\nauthorization: Bearer ${a}\r\nauthorization: Bearer ${b}`);
      assert.ok(twice.status >= 400, `repeated Authorization: ${twice.status}`);
      assert.doesNotMatch(twice.text, /"headers"/, 'the upstream was not reached');
    }
    const hosts = await rawHttp(port, `GET / HTTP/1.1\r\nhost: status.example.com\r\nhost: grafana.example.com`);
    assert.ok(hosts.status >= 400, `repeated Host: ${hosts.status}`);

    // Path parameters: Tomcat/Jetty/Spring would read these as /admin; Verdict refuses them.
    for (const path of ['/public/..;/admin', '/x/%2e%2e;/admin', '/x/..;jsessionid=1/admin', '/admin;x=1', '/admin;']) {
      const before = upstreamPaths.length;
      const res = await httpRequest(`${base}${path}`, { headers: { host: 'status.example.com' } });
      assert.notEqual(res.status, 200, path);
      assert.equal(upstreamPaths.length, before, `${path} never reaches the upstream`);
    }

    await t.app.stop();
    const refused = t.records().filter((r) => r['verdict.transport'] === 'http' && r['verdict.reasons'] instanceof Array && (r['verdict.reasons'] as string[]).includes('invalid-path'));
    const refusedPaths = refused.map((r) => r['url.path']);
    for (const p of ['/public/..;/admin', '/x/%2e%2e;/admin', '/x/..;jsessionid=1/admin', '/admin;x=1', '/admin;']) assert.ok(refusedPaths.includes(p), `${p} refused and audited: ${JSON.stringify(refusedPaths)}`);
    const ids = new Set(t.records().filter((r) => r['verdict.transport'] === 'http').map((r) => r['verdict.decision_id']));
    assert.ok(ids.has(anon.headers['x-verdict-decision-id']), 'the decision id the client saw is audited');
  });
});

describe('nginx auth_request: the Host header cannot move the path Verdict decides on', () => {
  it('`Host: app.example.com?` makes X-Original-URL read as `/` with a query: refused, the upstream never reached', async (ctx) => {
    if (!requireTool(ctx, 'nginx')) return;
    // A public home page and an admin-only rest: the classic shape this would have bypassed.
    const policy = {
      version: 1,
      routes: [
        { id: 'home', match: { hosts: ['app.example.com'], path: '/' }, allow: { accept: true } },
        { id: 'admin', match: { hosts: ['app.example.com'], path_prefix: '/' }, allow: { groups: { has: 'admins' } } },
      ],
    };
    const t = await startTestApp({ 'p.json': policy }, { http: { listen: '127.0.0.1:0', trusted_proxies: ['127.0.0.1/32'] } });
    const seen: string[] = [];
    const upstream = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.end('upstream');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = await freePort();
    const nginx = await startNginx(tempDir('verdict-nginx-').dir, port, nginxAuthRequestConfig(port, t.app.httpPort, (upstream.address() as AddressInfo).port));
    try {
      assert.equal((await rawHttp(port, 'GET / HTTP/1.1\r\nhost: app.example.com')).status, 200, 'the home page is public');
      assert.equal((await rawHttp(port, 'GET /admin/secrets HTTP/1.1\r\nhost: app.example.com')).status, 401);
      for (const host of ['app.example.com?', 'app.example.com?x=']) {
        const r = await rawHttp(port, `GET /admin/secrets HTTP/1.1\r\nhost: ${host}`);
        assert.notEqual(r.status, 200, `Host ${host}: ${r.status}`);
      }
      assert.deepEqual(seen, ['/'], 'only the public home page reached the upstream');
    } finally {
      await nginx.stop();
      upstream.close();
      await t.app.stop();
    }
  });
});
