import type { RequestFacts } from '../request/facts.js';
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

  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const h of spec.hosts ?? []) {
    const n = normalizeHost(h);
    if (n.startsWith('*.')) suffixes.push(n.slice(1));
    else exact.add(n);
  }
  const anyHost = spec.hosts === undefined;
  const hostOk = (host: string): boolean => anyHost || exact.has(host) || suffixes.some((s) => host.length > s.length && host.endsWith(s));

  let pathOk: (path: string) => boolean = () => true;
  if (spec.path !== undefined) {
    const p = spec.path;
    pathOk = (path) => path === p;
  } else if (spec.path_prefix !== undefined) {
    const p = spec.path_prefix;
    pathOk = (path) => path.startsWith(p);
  } else if (spec.path_regex !== undefined) {
    pathOk = compileAnchoredRegex(spec.path_regex, pointerJoin(pointer, 'path_regex'));
  }
  const methods = spec.methods === undefined ? undefined : new Set(spec.methods);
  return (facts) => hostOk(facts.host) && pathOk(facts.path) && (methods === undefined || methods.has(facts.method));
}
