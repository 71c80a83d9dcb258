import { RuleCompileError } from './compile-error.js';

/**
 * Decides whether a regex may be used on request data. Injected by the loader (the
 * default uses `recheck`) so that the policy core stays free of worker threads.
 * Returns undefined when safe, else a message for the policy author.
 */
export type RegexSafetyCheck = (anchoredSource: string, flags: string) => string | undefined;

/** Regexes in policies match the whole value: `abc` means `^(?:abc)$`. */
export function compileAnchoredRegex(source: string, pointer: string, check: RegexSafetyCheck): RegExp {
  const anchored = `^(?:${source})$`;
  let re: RegExp;
  try {
    re = new RegExp(anchored, 'u');
  } catch (e) {
    throw new RuleCompileError(pointer, `invalid regular expression: ${(e as Error).message}`);
  }
  const problem = check(anchored, 'u');
  if (problem !== undefined) throw new RuleCompileError(pointer, problem);
  return re;
}
