import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { startVerdict } from '../../src/app.js';
import { loadConfig } from '../../src/config/load-config.js';
import { startTestApp } from '../helpers/app.js';
import { verdict } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

async function until(ok: () => boolean, boundMs: number, what: string): Promise<void> {
  const end = Date.now() + boundMs;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`${what}: not within ${boundMs} ms`);
    await sleep(10);
  }
}

const policy = (id: string) => ({ version: 1, routes: [{ id, match: { hosts: [`${id}.example.com`] }, allow: { accept: true } }] });
const routeIds = (t: { app: { policies: { current: { routes: readonly { id: string }[] } } } }) => t.app.policies.current.routes.map((r) => r.id).join(',');

describe('policy folder lifecycle under hot reload', () => {
  it('survives the folder being removed and recreated (rm -r, then a new checkout)', async () => {
    const t = await startTestApp({ 'a.json': policy('one') });
    try {
      rmSync(t.policiesDir, { recursive: true });
      // Gone: the set in force stays (a reload attempt, if any, is refused).
      await sleep(200);
      assert.equal(routeIds(t), 'one');
      mkdirSync(t.policiesDir);
      writeFileSync(join(t.policiesDir, 'a.json'), JSON.stringify(policy('two')));
      await until(() => routeIds(t) === 'two', 15_000, 'the recreated folder is read');
      // And it is watched again: an edit in the new folder reloads.
      writeFileSync(join(t.policiesDir, 'b.json'), JSON.stringify(policy('three')));
      await until(() => routeIds(t) === 'two,three', 15_000, 'an edit in the recreated folder is read');
    } finally {
      await t.app.stop();
    }
  });

  it('follows Kubernetes ConfigMap updates (..data symlink swap) and a swapped symlinked folder', async () => {
    const d = tempDir();
    // A ConfigMap volume: files are symlinks into ..data, itself a symlink to a timestamped folder.
    const mount = join(d.dir, 'configmap');
    mkdirSync(join(mount, '..v1'), { recursive: true });
    writeFileSync(join(mount, '..v1', 'p.json'), JSON.stringify(policy('cm1')));
    symlinkSync('..v1', join(mount, '..data'));
    symlinkSync('..data/p.json', join(mount, 'p.json'));
    // The configured folder is a symlink to the mount (as with a `current` release link).
    symlinkSync(mount, join(d.dir, 'policies'));
    const file = d.write('verdict.json', { grpc: { listen: '127.0.0.1:0' }, http: { listen: '127.0.0.1:0' }, audit: { sink: 'file', path: 'audit.jsonl' }, policies: { dir: 'policies', reload_debounce: '50ms' } });
    const app = await startVerdict(loadConfig(file, {}), { log: pino({ level: 'silent' }) });
    const t = { app };
    try {
      assert.equal(routeIds(t), 'cm1');
      // The kubelet's update: a new timestamped folder, ..data swapped atomically by rename.
      mkdirSync(join(mount, '..v2'));
      writeFileSync(join(mount, '..v2', 'p.json'), JSON.stringify(policy('cm2')));
      symlinkSync('..v2', join(mount, '..data_tmp'));
      renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
      rmSync(join(mount, '..v1'), { recursive: true });
      await until(() => routeIds(t) === 'cm2', 15_000, 'the ConfigMap update is read');
      // A release-style swap of the configured symlink itself to another folder.
      const other = join(d.dir, 'release2');
      mkdirSync(other);
      writeFileSync(join(other, 'p.json'), JSON.stringify(policy('rel2')));
      symlinkSync(other, join(d.dir, 'policies.tmp'));
      renameSync(join(d.dir, 'policies.tmp'), join(d.dir, 'policies'));
      await until(() => routeIds(t) === 'rel2', 15_000, 'the swapped folder is read');
    } finally {
      await app.stop();
    }
  });

  it('refuses a reload that would leave zero routes, unless policies.allow_empty', async () => {
    const t = await startTestApp({ 'a.json': policy('one') });
    try {
      rmSync(join(t.policiesDir, 'a.json'));
      await until(() => t.records().some((r) => r['event.action'] === 'policy-reload-rejected'), 15_000, 'the empty reload is refused');
      const rejected = t.records().find((r) => r['event.action'] === 'policy-reload-rejected')!;
      assert.match(JSON.stringify(rejected['verdict.problems']), /no routes.*allow_empty/);
      assert.equal(routeIds(t), 'one', 'the set in force stays');
    } finally {
      await t.app.stop();
    }
    const allowed = await startTestApp({ 'a.json': policy('one') }, { policies: { allow_empty: true } });
    try {
      rmSync(join(allowed.policiesDir, 'a.json'));
      await until(() => routeIds(allowed) === '', 15_000, 'an intended empty policy is accepted');
    } finally {
      await allowed.app.stop();
    }
  });

  it('verdict validate calls an empty folder an error (and serve refuses it) unless allow_empty', () => {
    const d = tempDir();
    mkdirSync(join(d.dir, 'empty'));
    const r = verdict(['validate', '--policies', join(d.dir, 'empty')]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /empty:+ the policy folder has no routes.*allow_empty/);
    const config = d.write('verdict.json', { policies: { dir: 'empty', allow_empty: true } });
    const ok = verdict(['validate', '--config', config]);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /^valid: 0 routes/m);
    const serve = verdict(['serve', '--config', d.write('strict.json', { policies: { dir: 'empty' } })]);
    assert.notEqual(serve.code, 0);
    assert.match(serve.stderr + serve.stdout, /no routes/);
  });
});
