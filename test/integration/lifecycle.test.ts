import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, symlinkSync, copyFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEMO_POLICY } from '../helpers/app.js';
import { verdictAsync, verdictAsyncResult } from '../helpers/cli.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

/** Polls `cond` every few ms, failing after `ms` (generous: a loaded machine starts Node slowly). */
async function until(cond: () => boolean, what: string, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

// A failed case must not leave servers behind (their pipes would keep this process alive).
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function watch(child: ChildProcess) {
  children.add(child);
  const s = { stderr: '', exit: undefined as { code: number | null; signal: NodeJS.Signals | null } | undefined };
  child.stderr!.on('data', (d: Buffer) => (s.stderr += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (s.stderr += d.toString()));
  child.on('exit', (code, signal) => (s.exit = { code, signal }));
  return s;
}

function setup(extra: Record<string, unknown> = {}) {
  const t = tempDir();
  t.write('policies/p.json', DEMO_POLICY);
  const config = t.write('verdict.json', { grpc: { listen: '127.0.0.1:0' }, http: { listen: '127.0.0.1:0' }, audit: { sink: 'file', path: 'audit.jsonl' }, ...extra });
  return { t, config, audit: join(t.dir, 'audit.jsonl') };
}

const records = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

async function assertSealed(file: string) {
  const v = await verdictAsyncResult(['audit', 'verify', file]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const all = records(file);
  assert.equal(all.at(-1)!['event.action'], 'audit.checkpoint', 'the chain ends sealed');
  return all;
}

// Concurrent: each case waits on its own server processes, not on the CPU.
describe('serve: signals from the first moment', { concurrency: true }, () => {
  it('a SIGTERM during startup stops cleanly once started: exit 0, start and shutdown recorded, chain sealed', async () => {
    const { config, audit, t } = setup();
    const child = verdictAsync(['serve', '--config', config], { cwd: t.dir });
    const s = watch(child);
    // The audit file exists as soon as the writer opened it, well before the ports are bound.
    await until(() => existsSync(audit) || s.exit !== undefined, 'the audit file');
    child.kill('SIGTERM');
    await until(() => s.exit !== undefined, 'exit');
    assert.deepEqual(s.exit, { code: 0, signal: null }, s.stderr);
    const all = await assertSealed(audit);
    assert.deepEqual(all.map((r) => r['event.action']), ['start', 'shutdown', 'audit.checkpoint']);
  });

  it('SIGTERM the moment `verdict serving` is logged, three starts in a row on one trail: always sealed', async () => {
    const { config, audit, t } = setup();
    for (let i = 0; i < 3; i++) {
      const child = verdictAsync(['serve', '--config', config], { cwd: t.dir });
      const s = watch(child);
      await until(() => /verdict serving/.test(s.stderr) || s.exit !== undefined, 'serving');
      child.kill(i % 2 ? 'SIGINT' : 'SIGTERM');
      await until(() => s.exit !== undefined, 'exit');
      assert.deepEqual(s.exit, { code: 0, signal: null }, s.stderr);
      await assertSealed(audit);
    }
    assert.equal(records(audit).filter((r) => r['event.action'] === 'start').length, 3);
  });

  it('a second signal during shutdown does not cut the drain short; a third forces the stop and still seals', async () => {
    const { config, audit, t } = setup({ shutdown: { drain_delay: '1s' } });
    const child = verdictAsync(['serve', '--config', config], { cwd: t.dir });
    const s = watch(child);
    await until(() => /verdict serving/.test(s.stderr), 'serving');
    const first = Date.now();
    child.kill('SIGTERM');
    await until(() => /shutting down/.test(s.stderr), 'shutting down');
    child.kill('SIGINT');
    await until(() => /already in progress/.test(s.stderr) || s.exit !== undefined, 'second signal acknowledged');
    await until(() => s.exit !== undefined, 'exit');
    assert.ok(Date.now() - first >= 1000, 'the 1 s drain delay ran in full');
    assert.deepEqual(s.exit, { code: 0, signal: null }, s.stderr);
    const shutdown = (await assertSealed(audit)).find((r) => r['event.action'] === 'shutdown')!;
    assert.equal(shutdown['verdict.shutdown_reason'], 'SIGTERM');
    assert.equal(shutdown['verdict.shutdown_forced'], undefined);

    // A drain of a minute: only the third signal ends it, and the trail is sealed all the same.
    const slow = setup({ shutdown: { drain_delay: '60s' } });
    const c2 = verdictAsync(['serve', '--config', slow.config], { cwd: slow.t.dir });
    const s2 = watch(c2);
    await until(() => /verdict serving/.test(s2.stderr), 'serving');
    c2.kill('SIGTERM');
    await until(() => /shutting down/.test(s2.stderr), 'shutting down');
    c2.kill('SIGTERM');
    await until(() => /already in progress/.test(s2.stderr), 'second signal acknowledged');
    assert.equal(s2.exit, undefined, 'still draining after two signals');
    c2.kill('SIGTERM');
    await until(() => s2.exit !== undefined, 'exit after the third signal', 30_000);
    assert.deepEqual(s2.exit, { code: 0, signal: null }, s2.stderr);
    const forced = (await assertSealed(slow.audit)).find((r) => r['event.action'] === 'shutdown')!;
    assert.equal(forced['verdict.shutdown_forced'], true);
  });

  it('`npm start` stops on a SIGTERM sent to npm itself: no server left behind, chain sealed', async (t) => {
    if (!requireTool(t, '/usr/bin/npm', 'apt-get install npm')) return;
    // A throwaway package with this repository's start script and launcher, so its build step
    // compiles one tiny file there instead of rewriting dist/ under the running test suite.
    const pkg = tempDir();
    const repo = process.cwd();
    const { scripts } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: { start: string } };
    pkg.write('package.json', { name: 'verdict-start-probe', private: true, type: 'module', scripts: { start: scripts.start } });
    mkdirSync(join(pkg.dir, 'scripts'));
    copyFileSync(join(repo, 'scripts/start.js'), join(pkg.dir, 'scripts/start.js'));
    pkg.write('tsconfig.json', { compilerOptions: { outDir: 'out', module: 'nodenext', types: [] }, files: ['probe.ts'] });
    pkg.write('probe.ts', 'export const probe = 1;\n');
    symlinkSync(join(repo, 'node_modules'), join(pkg.dir, 'node_modules'));
    symlinkSync(join(repo, 'dist'), join(pkg.dir, 'dist'));
    const { config, audit } = setup();

    const npm = spawn('/usr/bin/npm', ['start', '--silent', '--', '--config', config], { cwd: pkg.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const s = watch(npm);
    await until(() => /verdict serving/.test(s.stderr) || s.exit !== undefined, 'serving', 120_000);
    const port = Number(/"grpc":"[^"]*:(\d+)"/.exec(s.stderr)![1]);
    npm.kill('SIGTERM');
    await until(() => s.exit !== undefined, 'npm exit');
    const all = await assertSealed(audit);
    assert.equal(all.find((r) => r['event.action'] === 'shutdown')?.['verdict.shutdown_reason'], 'SIGTERM', s.stderr);
    // Nothing listens on the gRPC port any more: the server itself stopped, not only npm.
    const sock = connect(port, '127.0.0.1');
    const [e] = (await once(sock, 'error').catch((x: unknown) => [x])) as [NodeJS.ErrnoException];
    assert.equal(e.code, 'ECONNREFUSED');
  });
});
