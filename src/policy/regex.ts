import { RE2JS } from 're2js';
import { RuleCompileError } from './compile-error.js';

/**
 * Largest compiled regex program accepted (RE2 instructions). Matching is linear in the
 * input, but each input character may visit every instruction; this keeps the worst
 * case per request small. `(?:[a-z]{30}){30}` is ~900.
 */
export const MAX_REGEX_PROGRAM = 2000;

/** Tests a whole value; compiled once at load. */
export type RegexTest = (value: string) => boolean;

/**
 * Regexes in policies use RE2 syntax and run on re2js, a linear-time engine (no
 * backtracking), so no pattern can make a request slow: they run on attacker-chosen
 * paths and headers. They match the whole value: `abc` means `^(?:abc)$`.
 * RE2 refuses what needs backtracking (backreferences, lookaround), so no separate
 * safety check is needed.
 */
export function compileAnchoredRegex(source: string, pointer: string): RegexTest {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (e) {
    const detail = (e as Error).message.replace(/^error parsing regexp: /, '');
    throw new RuleCompileError(pointer, `unsupported regular expression (RE2 syntax; no backreferences or lookaround): ${detail}`);
  }
  const size = re.re2().prog.numInst();
  if (size > MAX_REGEX_PROGRAM) {
    throw new RuleCompileError(pointer, `regular expression too large (${size} RE2 instructions, at most ${MAX_REGEX_PROGRAM}); use smaller repeat counts`);
  }
  return (value) => re.testExact(value);
}
