import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, settingOrigin } from '../config/load-config.js';
import { formatProblem } from '../errors.js';
import { lintPolicy } from '../lint/lint.js';
import { loadPolicyDir } from '../policy-store/policy-store.js';
import { parseTestFile } from '../policy-test/run-cases.js';
import { err, oneLine, out, problemsOf } from './io.js';

/** Hosts the test cases send requests to; undefined when there are no test files at all. */
function caseHosts(paths: readonly string[]): Set<string> | undefined | string {
  const files: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) continue;
    if (statSync(p).isDirectory()) for (const n of readdirSync(p).sort()) if (n.endsWith('.json') && !n.startsWith('.')) files.push(join(p, n));
    else files.push(p);
  }
  if (files.length === 0) return undefined;
  const hosts = new Set<string>();
  for (const f of files) {
    const parsed = parseTestFile(f, readFileSync(f, 'utf8'));
    if (!('cases' in parsed)) return formatProblem(parsed);
    for (const c of parsed.cases) if (c.request.host) hosts.add(c.request.host);
  }
  return hosts;
}

/**
 * `verdict lint [--config FILE] [--policies DIR] [--tests PATH]`: static analysis of a valid
 * policy set. One line per finding, `<file>:<pointer>: <severity> <code>: <message>`; exit 1
 * when any is an error, 0 with warnings only, 2 when the policies are not valid or unreadable.
 */
export function lint(configFile: string | undefined, policiesDir: string | undefined, tests: readonly string[]): number {
  let policy;
  let config;
  try {
    config = loadConfig(configFile, process.env, process.cwd(), { requireSecrets: false });
    policy = loadPolicyDir(policiesDir ?? config.policies.dir, policiesDir === undefined ? settingOrigin(config, '/policies/dir') : undefined);
  } catch (e) {
    err(`verdict lint: ${oneLine(problemsOf(e, policiesDir ?? configFile ?? '(config)'))}`);
    return 2;
  }
  const hosts = caseHosts(tests.length > 0 ? tests : [join(policiesDir ?? config.policies.dir, 'tests')]);
  if (typeof hosts === 'string') {
    err(`verdict lint: ${hosts}`);
    return 2;
  }
  const findings = lintPolicy(policy, { requireRouteId: config.policies.require_route_id, caseHosts: hosts });
  for (const f of findings) out(`${f.file}:${f.pointer}: ${f.severity} ${f.code}: ${f.message}`);
  const errors = findings.filter((f) => f.severity === 'error').length;
  out(`${errors} error${errors === 1 ? '' : 's'}, ${findings.length - errors} warning${findings.length - errors === 1 ? '' : 's'} in ${policy.routes.length} route${policy.routes.length === 1 ? '' : 's'}${hosts ? '' : ' (no test files: hosts not compared with test cases)'}`);
  return errors > 0 ? 1 : 0;
}
