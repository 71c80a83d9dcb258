import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatProblem } from '../errors.js';
import { Coverage, type CoverageReport } from '../policy-test/coverage.js';
import { parseTestFile, runCase } from '../policy-test/run-cases.js';
import { defaultIssuers } from '../identity/from-config.js';
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

export interface TestOptions {
  /** Print which rules and criteria the passing cases exercised, per route. */
  readonly coverage?: boolean | undefined;
  /** Fail below this coverage, in percent (implies `coverage`). */
  readonly minCoverage?: string | undefined;
  /** The policy folder, instead of the config's `policies.dir`; its `tests/` are the default cases. */
  readonly policies?: string | undefined;
}

function printCoverage(report: CoverageReport): void {
  out('coverage (rule outcomes exercised by passing cases; each route also needs one case):');
  for (const r of report.routes) {
    const pct = r.outcomes === 0 ? 100 : (r.covered / r.outcomes) * 100;
    out(`  ${r.id} (${r.file}): ${r.covered}/${r.outcomes} ${pct.toFixed(0)}%, ${r.cases} case${r.cases === 1 ? '' : 's'}${r.cases === 0 ? ' — no case reaches this route' : ''}`);
    if (r.cases > 0) for (const m of r.missing) out(`    ${m.node.pointer}: never ${m.value}`);
  }
  out(`coverage: ${report.covered}/${report.outcomes} ${report.percent.toFixed(1)}%`);
}

/** Runs policy test files; default: the `tests/` folder beside the policies. */
export function test(configFile: string | undefined, paths: readonly string[], options: TestOptions = {}): number {
  let minCoverage: number | undefined;
  if (options.minCoverage !== undefined) {
    minCoverage = Number(options.minCoverage);
    if (options.minCoverage.trim() === '' || !Number.isFinite(minCoverage) || minCoverage < 0 || minCoverage > 100) {
      err(`verdict test: --min-coverage takes a percentage from 0 to 100, not ${JSON.stringify(options.minCoverage)}`);
      return 2;
    }
  }
  const loaded = loadForCommand(configFile, options.policies);
  if (!loaded) return 2;
  const { config, policy } = loaded;
  const coverage = options.coverage || minCoverage !== undefined ? new Coverage(policy, config.policies.require_route_id) : undefined;
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
      const r = runCase(policy, name, c, config.policies.require_route_id, defaultIssuers(config));
      if (r.passed) {
        passed++;
        coverage?.add(c);
      } else {
        failed++;
        out(`FAIL ${name} ${JSON.stringify(c.name)}: ${r.differences.join('; ')}`);
      }
    }
  }
  out(`${passed} passed, ${failed} failed`);
  if (coverage) {
    const report = coverage.report();
    printCoverage(report);
    if (minCoverage !== undefined && report.percent < minCoverage) {
      out(`coverage ${report.percent.toFixed(1)}% is below --min-coverage ${minCoverage}%`);
      return 1;
    }
  }
  return failed > 0 ? 1 : 0;
}
