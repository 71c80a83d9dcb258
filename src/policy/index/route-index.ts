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
/** A bucket of one route is its position alone (the common case); more make a PathIndex. */
type Bucket = number | PathIndex;

export class RouteIndex {
  #routes: readonly CompiledRoute[] = [];
  #anyHost: Bucket | undefined;
  readonly #exact = new Map<string, Bucket>();
  readonly #suffix = new Map<string, Bucket>();
  /** Each added route's match spec by position, while routes are added (read when a bucket grows). */
  #specs: MatchSpec[] | undefined = [];
  readonly #specOf = (position: number): MatchSpec => this.#specs![position]!;

  /** Adds the route at `position` of the route list (positions ascend). */
  add(route: CompiledRoute, position: number): void {
    if (route.match === undefined) return; // reachable only by id
    const spec = (route.source.match ?? {}) as MatchSpec;
    this.#specs![position] = spec;
    if (spec.hosts === undefined) {
      this.#anyHost = this.#grow(this.#anyHost, position);
      return;
    }
    const seen = new Set<string>();
    for (const h of spec.hosts) {
      const n = normalizeHost(h);
      if (seen.has(n)) continue;
      seen.add(n);
      // `*.example.com` matches names ending in `.example.com`, never example.com itself.
      const map = n.startsWith('*.') ? this.#suffix : this.#exact;
      const key = n.startsWith('*.') ? n.slice(1) : n;
      const before = map.get(key);
      const after = this.#grow(before, position);
      if (after !== before) map.set(key, after);
    }
  }

  #grow(bucket: Bucket | undefined, position: number): Bucket {
    if (bucket === undefined) return position;
    if (typeof bucket === 'number') return new PathIndex([bucket, position]);
    bucket.add(position, this.#specOf);
    return bucket;
  }

  /** Call once after the last `add`, with the full route list. */
  seal(routes: readonly CompiledRoute[]): void {
    this.#routes = routes;
    this.#specs = undefined;
  }

  lookup(facts: RequestFacts): CompiledRoute | undefined {
    const { host, path } = facts;
    const candidates: number[] = [];
    collect(this.#anyHost, path, candidates);
    collect(this.#exact.get(host), path, candidates);
    if (this.#suffix.size > 0) {
      // Every `.`-suffix of the host below its first character: the wildcards it can match.
      for (let i = host.indexOf('.', 1); i >= 0; i = host.indexOf('.', i + 1)) collect(this.#suffix.get(host.slice(i)), path, candidates);
    }
    if (candidates.length > 1) candidates.sort((a, b) => a - b);
    for (const position of candidates) {
      const route = this.#routes[position]!;
      if (route.match!(facts)) return route;
    }
    return undefined;
  }
}

function collect(bucket: Bucket | undefined, path: string, out: number[]): void {
  if (bucket === undefined) return;
  if (typeof bucket === 'number') out.push(bucket);
  else bucket.collect(path, out);
}
