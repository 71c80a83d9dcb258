import { basename } from 'node:path';
import type { TestContext } from 'node:test';
import { findTool, toolSpec } from '../../scripts/test-tools.js';

/**
 * Outside programs for tests, by name (`envoy`, `nginx`, `redis-server`, `chromium`,
 * `rsyslogd`, `docker-compose`, `openssl`): found where `npm test` provisioned them
 * (VERDICT_TOOL_*), on PATH or in the sbin folders. A fixed path such as `/usr/sbin/nginx`
 * is accepted too and stands for the program of that file name.
 */
function lookup(nameOrPath: string): { name: string; path: string | undefined; hint: string } {
  const name = basename(nameOrPath);
  return { name, path: findTool(name), hint: toolSpec(name)?.hint ?? `install ${name}` };
}

/** The tool's path; throws (naming how to install it) when it is missing. */
export function toolPath(nameOrPath: string): string {
  const { name, path, hint } = lookup(nameOrPath);
  if (!path) throw new Error(`${name} is missing: ${hint}`);
  return path;
}

/**
 * Whether a tool is installed. Outside CI a missing tool means "skip"; under CI=true it
 * is an error, so a green CI never hides a missing tool.
 */
export function hasTool(nameOrPath: string, install?: string): boolean {
  const { name, path, hint } = lookup(nameOrPath);
  if (path) return true;
  if (process.env.CI === 'true') throw new Error(`${name} is missing: ${install ?? hint} (npm test installs it when it runs as root)`);
  return false;
}

/** In a test: skip it (naming the tool and how to install it) when the tool is missing outside CI. */
export function requireTool(t: TestContext, nameOrPath: string, install?: string): boolean {
  if (hasTool(nameOrPath, install)) return true;
  const { name, hint } = lookup(nameOrPath);
  t.skip(`${name} is missing: ${install ?? hint}`);
  return false;
}
