import { resolve } from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { formatProblem, type Problem } from '../errors.js';
import { loadPolicyDir } from '../policy-store/policy-store.js';
import { out, problemsOf } from './io.js';

export function validate(configFile: string | undefined, policiesDir: string | undefined): number {
  const problems: Problem[] = [];
  let dir = policiesDir === undefined ? undefined : resolve(policiesDir);
  try {
    const config = loadConfig(configFile);
    dir ??= config.policies.dir;
  } catch (e) {
    problems.push(...problemsOf(e, configFile ?? '(config)'));
  }
  let summary = '';
  if (dir !== undefined) {
    try {
      const policy = loadPolicyDir(dir);
      summary = `${policy.routes.length} routes in ${policy.files.length} files, policy hash ${policy.hash}`;
    } catch (e) {
      problems.push(...problemsOf(e, dir));
    }
  }
  for (const p of problems) out(formatProblem(p));
  if (problems.length > 0) return 1;
  out(`valid: ${summary}`);
  return 0;
}
