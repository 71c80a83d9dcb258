import type { RequestFacts } from '../request/facts.js';
import { pathLiteralProblem } from '../request/normalize-path.js';
import { RuleCompileError, pointerJoin } from './compile-error.js';
import { normalizeHost } from './host-pattern.js';
import { compileAnchoredRegex } from './regex.js';

export interface MatchSpec {
  hosts?: string[];
  path_prefix?: string;
  path?: string;
  path_regex?: string;
  methods?: string[];
}

export type CompiledMatch = (facts: RequestFacts) => boolean;

/**
 * `*.example.com` matches any name below example.com (one or more labels), never
 * example.com itself, as Envoy's virtual host wildcards do. Path prefixes are plain
 * string prefixes, as in Envoy's route `prefix`.
 */
export function compileMatch(spec: MatchSpec | undefined, pointer: string): CompiledMatch | undefined {
  if (spec === undefined) return undefined;
  const pathKeys = (['path_prefix', 'path', 'path_regex'] as const).filter((k) => spec[k] !== undefined);
  if (pathKeys.length > 1) throw new RuleCompileError(pointer, `use only one of path_prefix, path, path_regex (found ${pathKeys.join(', ')})`);

  // One closure per route over plain values (no per-route Set for one host, no closure per
  // part): at 10,000 routes every object counts in memory and in GC work during a reload.
  let exact: string | Set<string> | undefined;
  let suffixes: string | string[] | undefined;
  for (const h of spec.hosts ?? []) {
    const n = normalizeHost(h);
    if (n.startsWith('*.')) suffixes = suffixes === undefined ? n.slice(1) : [...(typeof suffixes === 'string' ? [suffixes] : suffixes), n.slice(1)];
    else exact = exact === undefined || exact === n ? n : new Set([...(typeof exact === 'string' ? [exact] : exact), n]);
  }
  const anyHost = spec.hosts === undefined;
  const kind = spec.path !== undefined ? PATH_EXACT : spec.path_prefix !== undefined ? PATH_PREFIX : spec.path_regex !== undefined ? PATH_REGEX : PATH_ANY;
  const p = spec.path ?? spec.path_prefix ?? '';
  if (kind === PATH_EXACT || kind === PATH_PREFIX) {
    const problem = pathLiteralProblem(p, kind === PATH_PREFIX);
    if (problem) throw new RuleCompileError(pointerJoin(pointer, kind === PATH_EXACT ? 'path' : 'path_prefix'), `${JSON.stringify(p)} ${problem}`);
  }
  const regex = spec.path_regex === undefined ? undefined : compileAnchoredRegex(spec.path_regex, pointerJoin(pointer, 'path_regex'));
  const methods = spec.methods === undefined ? undefined : new Set(spec.methods);
  return (facts) =>
    (anyHost || hostMatches(facts.host, exact, suffixes)) &&
    (kind === PATH_ANY || (kind === PATH_PREFIX ? facts.path.startsWith(p) : kind === PATH_EXACT ? facts.path === p : regex!(facts.path))) &&
    (methods === undefined || methods.has(facts.method));
}

const PATH_ANY = 0;
const PATH_EXACT = 1;
const PATH_PREFIX = 2;
const PATH_REGEX = 3;

function endsBelow(host: string, suffix: string): boolean {
  return host.length > suffix.length && host.endsWith(suffix);
}

function hostMatches(host: string, exact: string | Set<string> | undefined, suffixes: string | string[] | undefined): boolean {
  if (exact !== undefined && (typeof exact === 'string' ? host === exact : exact.has(host))) return true;
  if (suffixes === undefined) return false;
  return typeof suffixes === 'string' ? endsBelow(host, suffixes) : suffixes.some((s) => endsBelow(host, s));
}
