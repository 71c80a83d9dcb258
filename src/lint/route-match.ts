import { normalizeHost } from '../policy/host-pattern.js';
import type { MatchSpec } from '../policy/compile-match.js';
import type { RegexTest } from '../policy/regex.js';
import { compileAnchoredRegex } from '../policy/regex.js';

/** A route's `match` as sets, for reasoning about which requests two routes share. */
export interface RouteMatch {
  /** undefined: any host. */
  readonly exact: ReadonlySet<string> | undefined;
  /** `*.example.com` as `.example.com`. */
  readonly suffixes: readonly string[];
  readonly path: { kind: 'any' } | { kind: 'exact' | 'prefix'; value: string } | { kind: 'regex'; value: string; test: RegexTest };
  /** undefined: any method. */
  readonly methods: ReadonlySet<string> | undefined;
}

export function routeMatch(spec: MatchSpec): RouteMatch {
  let exact: Set<string> | undefined;
  const suffixes: string[] = [];
  if (spec.hosts !== undefined) {
    exact = new Set();
    for (const h of spec.hosts) {
      const n = normalizeHost(h);
      if (n.startsWith('*.')) suffixes.push(n.slice(1));
      else exact.add(n);
    }
  }
  const path: RouteMatch['path'] =
    spec.path !== undefined
      ? { kind: 'exact', value: spec.path }
      : spec.path_prefix !== undefined
        ? { kind: 'prefix', value: spec.path_prefix }
        : spec.path_regex !== undefined
          ? { kind: 'regex', value: spec.path_regex, test: compileAnchoredRegex(spec.path_regex, '') }
          : { kind: 'any' };
  return { exact, suffixes, path, methods: spec.methods === undefined ? undefined : new Set(spec.methods.map((m) => m.toUpperCase())) };
}

const anyPath = (p: RouteMatch['path']): boolean => p.kind === 'any' || (p.kind === 'prefix' && p.value === '/');
const under = (host: string, suffix: string): boolean => host.length > suffix.length && host.endsWith(suffix);

/** A host `a` serves that `b` also serves, or undefined when they share none. */
function sharedHost(a: RouteMatch, b: RouteMatch): string | undefined {
  if (a.exact === undefined && b.exact === undefined) return 'any.example';
  if (a.exact === undefined) return [...b.exact!][0] ?? (b.suffixes[0] ? `x${b.suffixes[0]}` : undefined);
  if (b.exact === undefined) return [...a.exact][0] ?? (a.suffixes[0] ? `x${a.suffixes[0]}` : undefined);
  for (const h of a.exact) if (b.exact.has(h) || b.suffixes.some((s) => under(h, s))) return h;
  for (const h of b.exact) if (a.suffixes.some((s) => under(h, s))) return h;
  for (const s of a.suffixes) for (const t of b.suffixes) if (s === t || s.endsWith(t) || t.endsWith(s)) return `x${s.length >= t.length ? s : t}`;
  return undefined;
}

/** A path both match, or undefined when none (or it cannot be told: regex against prefix). */
function sharedPath(a: RouteMatch['path'], b: RouteMatch['path']): string | undefined {
  if (anyPath(a)) return b.kind === 'exact' || b.kind === 'prefix' ? b.value : anyPath(b) ? '/' : undefined;
  if (anyPath(b)) return sharedPath(b, a);
  if (a.kind === 'exact' && b.kind === 'exact') return a.value === b.value ? a.value : undefined;
  if (a.kind === 'exact' && b.kind === 'prefix') return a.value.startsWith(b.value) ? a.value : undefined;
  if (a.kind === 'prefix' && b.kind === 'exact') return sharedPath(b, a);
  if (a.kind === 'prefix' && b.kind === 'prefix') return a.value.startsWith(b.value) ? a.value : b.value.startsWith(a.value) ? b.value : undefined;
  if (a.kind === 'regex' && b.kind === 'exact') return a.test(b.value) ? b.value : undefined;
  if (a.kind === 'exact' && b.kind === 'regex') return b.test(a.value) ? a.value : undefined;
  return undefined;
}

function sharedMethod(a: RouteMatch, b: RouteMatch): string | undefined {
  if (a.methods === undefined) return b.methods === undefined ? 'GET' : [...b.methods][0];
  if (b.methods === undefined) return [...a.methods][0];
  return [...a.methods].find((m) => b.methods!.has(m));
}

/** An example request both routes match (definitely), or undefined. */
export function sharedRequest(a: RouteMatch, b: RouteMatch): { host: string; path: string; method: string } | undefined {
  const host = sharedHost(a, b);
  const path = sharedPath(a.path, b.path);
  const method = sharedMethod(a, b);
  return host !== undefined && path !== undefined && method !== undefined ? { host, path, method } : undefined;
}

/** Whether every request `b` matches is matched by `a` (only what can be shown; regexes mostly cannot). */
export function covers(a: RouteMatch, b: RouteMatch): boolean {
  if (a.methods !== undefined && (b.methods === undefined || [...b.methods].some((m) => !a.methods!.has(m)))) return false;
  if (a.exact !== undefined) {
    if (b.exact === undefined) return false;
    for (const h of b.exact) if (!a.exact.has(h) && !a.suffixes.some((s) => under(h, s))) return false;
    for (const t of b.suffixes) if (!a.suffixes.some((s) => t === s || t.endsWith(s))) return false;
  }
  if (anyPath(a.path)) return true;
  const p = a.path;
  const q = b.path;
  if (p.kind === 'prefix') return (q.kind === 'exact' || q.kind === 'prefix') && q.value.startsWith(p.value);
  if (p.kind === 'exact') return q.kind === 'exact' && q.value === p.value;
  if (p.kind === 'regex') return q.kind === 'exact' && p.test(q.value);
  return false;
}
