import { checkSync } from 'recheck';
import type { RegexSafetyCheck } from '../policy/regex.js';

/**
 * Load-time ReDoS check with `recheck`: any super-linear pattern is refused, since
 * it runs on attacker-chosen paths and headers. Runs once per regex at policy load.
 */
export const recheckRegexSafety: RegexSafetyCheck = (source, flags) => {
  const result = checkSync(source, flags, { timeout: 5000 });
  if (result.status === 'safe') return undefined;
  if (result.status === 'vulnerable') {
    return `regular expression can backtrack catastrophically (${result.complexity.summary}); rewrite it, or use starts_with/ends_with/contains`;
  }
  return `regular expression could not be proven safe from catastrophic backtracking (${result.error.kind})`;
};
