import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

/**
 * Whether a system tool is installed. Outside CI a missing tool skips the test (with
 * the install command); under CI=true it fails, so a green CI never hides it.
 */
export function requireTool(t: TestContext, path: string, install: string): boolean {
  if (existsSync(path)) return true;
  if (process.env.CI === 'true') throw new Error(`${path} is missing: ${install} (.ci/run installs it)`);
  t.skip(`${path} is missing: ${install}`);
  return false;
}
