import { formatProblem, isVerdictError, type Problem } from '../errors.js';

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
