import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { verdict } from '../../helpers/cli.js';
import { requireTool, toolPath } from '../../helpers/tools.js';

const ROOT = process.cwd();
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('docker-compose stack (validated with Debian\'s docker-compose; no Docker engine here)', () => {
  it('`docker-compose config` accepts the file, and the stack is wired as documented', (t) => {
    if (!requireTool(t, 'docker-compose')) return;
    const r = spawnSync(toolPath('docker-compose'), ['--profile', 'tailnet', 'config'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, VERDICT_SESSION_KEYS: 'placeholder-for-config-check', TS_AUTHKEY: '' } });
    assert.equal(r.status, 0, r.stderr);
    const c = parse(r.stdout) as Obj;
    const s = c.services as Obj;
    assert.deepEqual(Object.keys(s).sort(), ['demo-app', 'envoy', 'envoy-tailnet', 'idp', 'tailscale', 'verdict']);
    assert.ok(JSON.stringify(s.envoy.volumes).includes('envoy/demo.yaml'));
    assert.equal(s.envoy.ports[0].published, 8080);
    assert.deepEqual(s.tailscale.profiles, ['tailnet']);
    assert.deepEqual(s['envoy-tailnet'].profiles, ['tailnet']);
    assert.equal(s['envoy-tailnet'].network_mode, 'service:tailscale');
    assert.ok(JSON.stringify(s.tailscale.volumes).includes('tailscale-state'));
    assert.ok(JSON.stringify(s.verdict.volumes).includes('/var/run/tailscale'), 'the LocalAPI socket is shared with Verdict');
    assert.deepEqual(s.idp.networks.default.aliases, ['idp.localhost']);
    // The audit trail (and the signing key generated beside it) in a volume the image's
    // non-root user owns, so it outlives the container and `audit verify` can read it.
    assert.equal(s.verdict.environment.VERDICT_AUDIT_SINK, 'file');
    assert.match(s.verdict.environment.VERDICT_AUDIT_PATH, /^\/var\/lib\/verdict\//);
    // Compose v1 prints volumes in the short form, v2 in the long one.
    const volumes = (s.verdict.volumes as (string | Obj)[]).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
    assert.ok(volumes.some((v) => v.startsWith('verdict-audit:/var/lib/verdict')), JSON.stringify(s.verdict.volumes));
    assert.match(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), /^RUN mkdir -p \/var\/lib\/verdict && chown node:node \/var\/lib\/verdict$/m);
    const missing = spawnSync(toolPath('docker-compose'), ['config', '-q'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, VERDICT_SESSION_KEYS: '' } });
    assert.notEqual(missing.status, 0, 'refuses to run without session keys');
    assert.match(missing.stderr, /VERDICT_SESSION_KEYS/);
  });

  it('envoy/demo.yaml is generated from the demo config and its policy tests pass', () => {
    const r = verdict(['envoy-config', '--config', 'demo/verdict.json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(ROOT, 'envoy/demo.yaml'), 'utf8').trim(), r.stdout.trim(), 'run `npx verdict envoy-config --config demo/verdict.json > envoy/demo.yaml`');
    const tests = verdict(['test', '--config', 'demo/verdict.json']);
    assert.equal(tests.code, 0, tests.stdout);
  });

  it('the image is multi-stage, slim, non-root, health-checked, without dev dependencies', () => {
    const d = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const stages = [...d.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    assert.ok(stages.length >= 2);
    assert.match(stages.at(-1)!, /^node:\d+-slim$/);
    const final = d.slice(d.lastIndexOf('\nFROM '));
    assert.match(final, /^USER node$/m);
    assert.match(final, /^HEALTHCHECK /m);
    assert.match(final, /--from=prune \/app\/node_modules/);
    assert.match(d, /npm prune --omit=dev/);
  });
});
