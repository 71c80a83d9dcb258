import type { Config } from '../config/config.js';
import { loadConfig, settingOrigin } from '../config/load-config.js';
import { formatProblem, isVerdictError, type Problem } from '../errors.js';
import type { PolicySet } from '../policy/policy-set.js';
import { loadPolicyDir } from '../policy-store/policy-store.js';

export const out = (line: string): void => void process.stdout.write(`${line}\n`);
export const err = (line: string): void => void process.stderr.write(`${line}\n`);

/**
 * A line for a terminal, with every control character (C0 but tab, DEL, C1) and U+2028/U+2029
 * shown as `?`. Audit records hold attacker-chosen values (a raw path sent straight to the gRPC
 * port, header values, IdP claims): printed as they are, an ESC sequence re-titles the terminal,
 * writes the clipboard (OSC 52) or hides lines of the report the operator is reading.
 */
export const printable = (line: string): string => line.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
/** `out` for text built from recorded values (explain, audit query and summary reports). */
export const outText = (line: string): void => out(printable(line));

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
    return { config: policiesDir === undefined ? config : { ...config, policies: { ...config.policies, dir } }, policy: loadPolicyDir(dir, policiesDir === undefined ? settingOrigin(config, '/policies/dir') : undefined) };
  } catch (e) {
    err(`verdict: ${oneLine(problemsOf(e, configFile ?? '(config)'))}`);
    return undefined;
  }
}
