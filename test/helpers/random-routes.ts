// Random policies and requests for the route-order property tests (unit and real Envoy):
// host patterns that overlap (exact, wildcards at two depths, case and trailing dot), path
// prefixes, exact paths and regexes, methods, and routes without `to`.

/** mulberry32: a failure names a reproducible seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;

export const HOST_PATTERNS = ['a.com', 'b.a.com', 'x.b.a.com', 'A.com', 'a.com.', '*.a.com', '*.B.a.com', '*.x.b.a.com', '*.com', 'c.org', '*.c.org'];
export const REQUEST_HOSTS = ['a.com', 'b.a.com', 'x.b.a.com', 'y.x.b.a.com', 'z.a.com', 'z.b.a.com', 'c.org', 'd.c.org', 'e.d.c.org', 'other.net', 'q.com'];
export const PATHS = ['/', '/a', '/ab', '/a/', '/a/b', '/a/b/c', '/b', '/b/1', '/u/42', '/ab/c'];
export const REGEXES = ['/a.*', '/u/[0-9]+', '/(a|b)/.*', '.*b'];
export const METHODS = ['GET', 'POST', 'DELETE'];

/** A random route; about one in six has no `to` (Verdict decides it, Envoy has no upstream for it). */
export function randomRoute(r: () => number, i: number, to: (i: number) => string): Record<string, unknown> {
  const route: Record<string, unknown> = { id: `r${i}`, allow: { accept: true } };
  if (r() < 0.05) return route; // no match: reachable only by id, never by Envoy's matching
  if (r() > 0.17) route.to = to(i);
  const match: Record<string, unknown> = {};
  if (r() < 0.7) match.hosts = Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(r, HOST_PATTERNS));
  const p = r();
  if (p < 0.3) match.path_prefix = pick(r, PATHS);
  else if (p < 0.5) match.path = pick(r, PATHS);
  else if (p < 0.65) match.path_regex = pick(r, REGEXES);
  if (r() < 0.25) match.methods = [pick(r, METHODS)];
  route.match = match;
  return route;
}

