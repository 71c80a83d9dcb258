import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatProblem } from '../errors.js';
import { parseTestFile, runCase } from '../policy-test/run-cases.js';
import { displayName } from '../policy-store/read-policy-dir.js';
import { err, loadForCommand, out } from './io.js';

function testFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const n of readdirSync(p).sort()) if (n.endsWith('.json') && !n.startsWith('.')) files.push(join(p, n));
    } else {
      files.push(p);
    }
  }
  return files;
}

/** Runs policy test files; default: the `tests/` folder beside the policies. */
export function test(configFile: string | undefined, paths: readonly string[]): number {
  const loaded = loadForCommand(configFile);
  if (!loaded) return 2;
  const { config, policy } = loaded;
  let files: string[];
  try {
    files = testFiles(paths.length > 0 ? paths : [join(config.policies.dir, 'tests')]);
  } catch (e) {
    err(`verdict: cannot read test files: ${(e as Error).message}`);
    return 2;
  }
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    const name = displayName(file);
    const parsed = parseTestFile(name, readFileSync(file, 'utf8'));
    if (!('cases' in parsed)) {
      out(`FAIL ${formatProblem(parsed)}`);
      failed++;
      continue;
    }
    for (const c of parsed.cases) {
      const r = runCase(policy, name, c, config.policies.require_route_id);
      if (r.passed) passed++;
      else {
        failed++;
        out(`FAIL ${name} ${JSON.stringify(c.name)}: ${r.differences.join('; ')}`);
      }
    }
  }
  out(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}
