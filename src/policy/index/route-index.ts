import type { MatchSpec } from '../compile-match.js';
import { normalizeHost } from '../host-pattern.js';
import type { RequestFacts } from '../../request/facts.js';
import type { CompiledRoute } from '../policy-set.js';
import { PathIndex } from './path-index.js';

/**
 * Finds the first route, in policy order, whose `match` accepts a request, without
 * walking every route: routes are bucketed by host (exact names in a map, `*.suffix`
 * wildcards by suffix, routes for any host in one bucket) and, inside a bucket, by
 * path (path-index.ts). The buckets only narrow the candidates; each candidate is
 * still checked with its own compiled matcher, lowest position first, so the answer
 * is exactly the linear first-match scan's (a property test holds the two equal).
 */
export class RouteIndex {
  #routes: readonly CompiledRoute[] = [];
  readonly #anyHost = new PathIndex();
  readonly #exact = new Map<string, PathIndex>();
  readonly #suffix = new Map<string, PathIndex>();

  /** Adds the route at `position` of the route list (positions ascend). */
  add(route: CompiledRoute, position: number): void {
    if (route.match === undefined) return; // reachable only by id
    const spec = (route.source.match ?? {}) as MatchSpec;
    if (spec.hosts === undefined) {
      this.#anyHost.add(position, spec);
      return;
    }
    const seen = new Set<string>();
    for (const h of spec.hosts) {
      const n = normalizeHost(h);
      if (seen.has(n)) continue;
      seen.add(n);
      // `*.example.com` matches names ending in `.example.com`, never example.com itself.
      if (n.startsWith('*.')) bucket(this.#suffix, n.slice(1)).add(position, spec);
      else bucket(this.#exact, n).add(position, spec);
    }
  }

  /** Call once after the last `add`, with the full route list. */
  seal(routes: readonly CompiledRoute[]): void {
    this.#routes = routes;
  }

  lookup(facts: RequestFacts): CompiledRoute | undefined {
    const { host, path } = facts;
    const candidates: number[] = [];
    this.#anyHost.collect(path, candidates);
    this.#exact.get(host)?.collect(path, candidates);
    if (this.#suffix.size > 0) {
      // Every `.`-suffix of the host below its first character: the wildcards it can match.
      for (let i = host.indexOf('.', 1); i >= 0; i = host.indexOf('.', i + 1)) this.#suffix.get(host.slice(i))?.collect(path, candidates);
    }
    if (candidates.length > 1) candidates.sort((a, b) => a - b);
    for (const position of candidates) {
      const route = this.#routes[position]!;
      if (route.match!(facts)) return route;
    }
    return undefined;
  }
}

function bucket(map: Map<string, PathIndex>, key: string): PathIndex {
  let b = map.get(key);
  if (!b) map.set(key, (b = new PathIndex()));
  return b;
}
