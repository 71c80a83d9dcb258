import type { MatchSpec } from '../compile-match.js';

/** Up to this many routes, a bucket is a plain list: all of them are candidates. */
const SMALL = 8;

/**
 * The routes of one host bucket by path: exact paths in a map, prefixes in a map per
 * prefix length (a path has one candidate prefix per distinct length, so lookup cost
 * follows the number of distinct prefix lengths, not the number of routes), regex
 * routes in a list. A route without a path matcher is the empty prefix.
 *
 * Most buckets hold one route: route-index.ts keeps those as the bare position and makes
 * a PathIndex only for a second one (10,000 routes make ~17,500 buckets; memory and GC
 * work at that size). Small buckets are a list of positions; the maps are built past
 * SMALL, reading each route's spec from `specOf`.
 */
export class PathIndex {
  #small: number[] | undefined;
  #exact: Map<string, number[]> | undefined;
  #prefixes: Map<string, number[]> | undefined;
  #lengths: number[] | undefined;
  #regex: number[] | undefined;

  constructor(positions: number[]) {
    this.#small = positions;
  }

  add(position: number, specOf: (position: number) => MatchSpec): void {
    if (this.#small) {
      if (this.#small.length < SMALL) {
        this.#small.push(position);
        return;
      }
      const positions = this.#small;
      this.#small = undefined;
      for (const p of positions) this.#addIndexed(p, specOf(p));
    }
    this.#addIndexed(position, specOf(position));
  }

  #addIndexed(position: number, spec: MatchSpec): void {
    if (spec.path !== undefined) push((this.#exact ??= new Map()), spec.path, position);
    else if (spec.path_regex !== undefined) (this.#regex ??= []).push(position);
    else {
      const prefix = spec.path_prefix ?? '';
      const lengths = (this.#lengths ??= []);
      if (!lengths.includes(prefix.length)) {
        // Kept sorted as it grows: there are few distinct lengths.
        const at = lengths.findIndex((l) => l > prefix.length);
        lengths.splice(at < 0 ? lengths.length : at, 0, prefix.length);
      }
      push((this.#prefixes ??= new Map()), prefix, position);
    }
  }

  /** Appends every route that may match `path` (a superset; the caller verifies). */
  collect(path: string, out: number[]): void {
    if (this.#small) {
      for (const p of this.#small) out.push(p);
      return;
    }
    const exact = this.#exact?.get(path);
    if (exact) for (const p of exact) out.push(p);
    if (this.#lengths) {
      for (const len of this.#lengths) {
        if (len > path.length) break;
        const hit = this.#prefixes!.get(len === path.length ? path : path.slice(0, len));
        if (hit) for (const p of hit) out.push(p);
      }
    }
    if (this.#regex) for (const p of this.#regex) out.push(p);
  }
}

function push(map: Map<string, number[]>, key: string, position: number): void {
  const list = map.get(key);
  if (list) list.push(position);
  else map.set(key, [position]);
}
