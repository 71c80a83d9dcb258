// `npm run demo` driven as a user would: the runner started on its own (its own process
// group, as in a terminal), alice and bob log in through real Envoy (HTTPS, the run's own
// self-signed certificate) in Chromium, a
// screenshot of each page, then Ctrl-C (SIGINT to the group) and every child is gone.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parse } from 'yaml';
import { withoutAddresses } from '../../scripts/demo-envoy.js';
import { freePort } from '../helpers/nginx.js';
import { tempDir } from '../helpers/tmp.js';
import { hasTool, toolPath } from '../helpers/tools.js';

const ROOT = join(import.meta.dirname, '../../..');
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** Every descendant of `pid`, from /proc (children of children included). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) (out.push(c), walk(c));
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function poll<T>(what: string, ms: number, test: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = test();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** PNG signature and the IHDR size: a real image of a real page, not an empty file. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  assert.equal(b.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', `${file} is a PNG`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('npm run demo: Envoy, Verdict, the demo IdP and app, without Docker', () => {
  let ready = false;
  let demo: ChildProcess;
  let output = '';
  let browser: Browser;
  let port = 0;
  let httpPort = 0;
  const state = tempDir('verdict-demo-test-').dir;
  const shots = process.env.DEMO_SCREENSHOT_DIR ?? join(state, 'screenshots');

  before(async () => {
    if (!hasTool('chromium') || !hasTool('envoy') || !hasTool('openssl')) return;
    mkdirSync(shots, { recursive: true });
    port = await freePort();
    httpPort = await freePort();
    // Its own process group, like a shell job: Ctrl-C is SIGINT to the whole group.
    demo = spawn(process.execPath, [join(ROOT, 'dist/scripts/demo.js'), '--port', String(port), '--http-port', String(httpPort), '--idp-port', '0', '--state-dir', join(state, 'run'), '--envoy', toolPath('envoy')], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await poll(`the demo to start:\n${output}`, 40000, () => {
      if (demo.exitCode !== null) throw new Error(`the demo exited: ${output}`);
      return output.includes('Ctrl-C stops everything') || undefined;
    });
    browser = await chromium.launch({
      executablePath: toolPath('chromium'),
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    ready = true;
  });
  after(async () => {
    await browser?.close();
    // If a test failed before Ctrl-C: never leave the demo running.
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      try {
        process.kill(-demo.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('prints the URL to open and the demo users, and runs the config envoy/demo.yaml holds', (t) => {
    if (!ready) return t.skip('chromium, envoy or openssl missing');
    assert.match(output, new RegExp(`Open https://app\\.localhost:${port}/`));
    assert.match(output, /alice/);
    assert.match(output, /bob/);
    // Envoy's running config: envoy/demo.yaml with loopback addresses, TLS on its listener
    // and the HTTP→HTTPS redirect listener; routes, filters and clusters unchanged.
    const running = parse(readFileSync(join(state, 'run/envoy.yaml'), 'utf8'));
    const shipped = parse(readFileSync(join(ROOT, 'envoy/demo.yaml'), 'utf8'));
    assert.deepEqual(withoutAddresses(running), withoutAddresses(shipped));
    const [tls, redirect] = running.static_resources.listeners;
    assert.deepEqual(tls.address.socket_address, { address: '127.0.0.1', port_value: port });
    assert.match(JSON.stringify(tls.filter_chains[0].transport_socket), /DownstreamTlsContext/, 'the listener serves TLS');
    assert.deepEqual(redirect.address.socket_address, { address: '127.0.0.1', port_value: httpPort });
    for (const c of running.static_resources.clusters) assert.equal(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address, '127.0.0.1', c.name);
  });

  it('plain HTTP redirects to the HTTPS URL', async (t) => {
    if (!ready) return t.skip('chromium, envoy or openssl missing');
    const res = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: httpPort, path: '/some/page', headers: { host: `app.localhost:${httpPort}` } }, (r) => {
        r.resume();
        resolve({ status: r.statusCode ?? 0, location: r.headers.location });
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.status, 301);
    assert.equal(res.location, `https://app.localhost:${port}/some/page`);
  });

  async function signIn(page: Page, user: string): Promise<void> {
    await page.waitForURL((u) => u.hostname === '127.0.0.1');
    await page.fill('input[name="login"]', user);
    await page.fill('input[name="password"]', 'any');
    await page.click('button[type="submit"]');
    const consent = page.locator('button[type="submit"]');
    if ((await consent.count()) && new URL(page.url()).hostname === '127.0.0.1') await consent.click();
  }

  it('alice logs in and sees who Verdict says she is; bob gets the deny page with its decision id', async (t) => {
    if (!ready) return t.skip('chromium, envoy or openssl missing');
    const home = `https://app.localhost:${port}/`;

    const alice = await (await browser.newContext({ viewport: { width: 900, height: 500 }, ignoreHTTPSErrors: true })).newPage();
    await alice.goto(home);
    await signIn(alice, 'alice');
    await alice.waitForURL(home);
    await alice.waitForSelector('h1');
    const aliceText = await alice.innerText('body');
    await alice.screenshot({ path: join(shots, 'demo-alice.png'), fullPage: true });
    assert.match(aliceText, /Hello alice/);
    assert.match(aliceText, /alice@example\.com/);
    assert.match(aliceText, /groups: sre/);
    assert.match(aliceText, new RegExp(`decision: ${UUID.source}`));
    // The session cookie is the production one: __Host-, Secure, HttpOnly.
    const cookie = (await alice.context().cookies(home)).find((c) => c.name === '__Host-verdict_session');
    assert.ok(cookie?.secure && cookie.httpOnly, 'a __Host- session cookie');

    const bob = await (await browser.newContext({ viewport: { width: 900, height: 500 }, ignoreHTTPSErrors: true })).newPage();
    await bob.goto(home);
    await signIn(bob, 'bob');
    await bob.waitForURL(home);
    await bob.waitForSelector('body');
    const bobText = await bob.innerText('body');
    await bob.screenshot({ path: join(shots, 'demo-bob.png'), fullPage: true });
    assert.match(bobText, /Access denied/);
    const decision = new RegExp(`Decision id: (${UUID.source})`).exec(bobText)?.[1];
    assert.ok(decision, `a decision id on the deny page: ${bobText}`);
    assert.doesNotMatch(bobText, /Hello/);

    // The audit trail agrees: that decision was a deny, for bob, on route app.
    const audit = readFileSync(join(state, 'run/verdict.log'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes(decision))
      .map((l) => JSON.parse(l))
      .filter((r) => r['verdict.decision_id'] === decision);
    assert.equal(audit.length, 1, `one audit record for ${decision}`);
    assert.equal(audit[0]['verdict.decision'], 'deny');
    assert.equal(audit[0]['user.id'], 'bob');

    for (const f of ['demo-alice.png', 'demo-bob.png']) {
      const { width, height } = pngSize(join(shots, f));
      assert.ok(width >= 900 && height >= 300, `${f}: ${width}×${height}`);
    }
  });

  it('Ctrl-C stops everything: the runner exits and none of its processes is left', async (t) => {
    if (!ready) return t.skip('chromium, envoy or openssl missing');
    const pids = descendants(demo.pid!);
    // idp, app, verdict, envoy (Envoy may run helper threads, never processes).
    assert.ok(pids.length >= 4, `the demo's processes: ${pids.join(' ')}`);
    process.kill(-demo.pid!, 'SIGINT');
    const code = await poll('the demo to exit', 20000, () => demo.exitCode ?? undefined);
    assert.equal(code, 0, output);
    assert.match(output, /demo: stopped/);
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} is gone`);
    // And the ports are free again.
    for (const p of [port, httpPort]) {
      const refused = await new Promise<boolean>((r) => {
        const s = connect(p, '127.0.0.1');
        s.on('connect', () => (s.destroy(), r(false)));
        s.on('error', () => r(true));
      });
      assert.ok(refused, `nothing listens on ${p}`);
    }
  });
});
