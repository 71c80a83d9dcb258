import { pointerJoin } from '../policy/compile-error.js';
import { compileAnchoredRegex } from '../policy/regex.js';
import type { CompiledRoute } from '../policy/policy-set.js';
import type { Finding } from './finding.js';

// Values of the kinds policies test: paths, names, emails, header values, empty, odd bytes
// (no line breaks: neither paths nor header values carry them).
const SAMPLES = ['', 'a', 'Z', '0', '/', '/a', '/a/b/c.html', '/API/v1/orders?x=1', 'alice', 'alice@example.com', 'x-y_z', ' ', 'ü', '日本', '%2F', 'a'.repeat(300)];

/** Every regex of a route: `match.path_regex` and each `matches` of a string matcher. */
function regexesOf(node: unknown, at: string, out: { pointer: string; source: string }[]): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    node.forEach((n, i) => regexesOf(n, pointerJoin(at, i), out));
    return;
  }
  for (const [k, v] of Object.entries(node)) {
    if ((k === 'matches' || k === 'path_regex') && typeof v === 'string') out.push({ pointer: pointerJoin(at, k), source: v });
    else regexesOf(v, pointerJoin(at, k), out);
  }
}

/**
 * An anchor that cannot hold where it stands: `$` with something after it that must consume a
 * character, or `^` after one (RE2 without the `m` flag: `^`/`$` are the ends of the value).
 */
function impossibleAnchor(source: string): boolean {
  if (/\(\?[a-z]*m/.test(source)) return false;
  const plain = source.replace(/\\./g, 'x').replace(/\[[^\]]*\]/g, 'x');
  return /\$[^|)*?{]/.test(plain.replace(/\$+$/, '')) || /[^(|^]\^/.test(plain);
}

/** Regexes that match every value tried (they restrict nothing) or none by construction. */
export function regexExtremes(route: CompiledRoute): Finding[] {
  const found: { pointer: string; source: string }[] = [];
  regexesOf({ match: route.source.match, allow: route.source.allow, deny: route.source.deny, shadow: route.source.shadow }, route.pointer, found);
  const findings: Finding[] = [];
  for (const { pointer, source } of found) {
    const test = compileAnchoredRegex(source, pointer);
    const hits = SAMPLES.filter((s) => test(s)).length;
    if (hits === SAMPLES.length) {
      findings.push({ file: route.file, pointer, severity: 'warning', code: 'regex-matches-everything', message: `${JSON.stringify(source)} matches every value tried, so it restricts nothing` });
    } else if (hits === 0 && impossibleAnchor(source)) {
      findings.push({ file: route.file, pointer, severity: 'warning', code: 'regex-matches-nothing', message: `${JSON.stringify(source)} can never match: an anchor stands in the middle (regexes match the whole value; ^ and $ are its ends)` });
    }
  }
  return findings;
}
