import type { Config } from '../config/config.js';
import { loadConfig } from '../config/load-config.js';
import { formatProblem, isVerdictError, type Problem } from '../errors.js';
import type { PolicySet } from '../policy/policy-set.js';
import { loadPolicyDir } from '../policy-store/policy-store.js';

export const out = (line: string): void => void process.stdout.write(`${line}\n`);
export const err = (line: string): void => void process.stderr.write(`${line}\n`);

/** The problems carried by an error, or one problem made from its message. */
export function problemsOf(e: unknown, fallbackFile: string): Problem[] {
  if (isVerdictError(e) && e.problems.length > 0) return [...e.problems];
  return [{ file: fallbackFile, pointer: '', message: e instanceof Error ? e.message : String(e) }];
}

export function oneLine(problems: readonly Problem[]): string {
  const first = formatProblem(problems[0]!);
  return problems.length > 1 ? `${first} (and ${problems.length - 1} more; run verdict validate)` : first;
}

/**
 * Config and policy set for the one-shot commands, which use no secrets; prints the first
 * problem and returns undefined on failure.
 */
export function loadForCommand(configFile: string | undefined, policiesDir?: string): { config: Config; policy: PolicySet } | undefined {
  try {
    const config = loadConfig(configFile, process.env, process.cwd(), { requireSecrets: false });
    // `--policies DIR` stands in for `policies.dir` (a pull request's folder, say).
    const dir = policiesDir ?? config.policies.dir;
    return { config: policiesDir === undefined ? config : { ...config, policies: { ...config.policies, dir } }, policy: loadPolicyDir(dir) };
  } catch (e) {
    err(`verdict: ${oneLine(problemsOf(e, configFile ?? '(config)'))}`);
    return undefined;
  }
}
