import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

/**
 * Whether a system tool is installed. Outside CI a missing tool means "skip"; under
 * CI=true it is an error, so a green CI never hides a missing tool.
 */
export function hasTool(path: string, install: string): boolean {
  if (existsSync(path)) return true;
  if (process.env.CI === 'true') throw new Error(`${path} is missing: ${install} (.ci/run installs it)`);
  return false;
}

/** In a test: skip it (with the install command) when the tool is missing outside CI. */
export function requireTool(t: TestContext, path: string, install: string): boolean {
  if (hasTool(path, install)) return true;
  t.skip(`${path} is missing: ${install}`);
  return false;
}
