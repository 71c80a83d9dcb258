import type { RequestFacts } from '../request/facts.js';
import { normalizePath, parameterStart } from '../request/normalize-path.js';
import { denial, type Decision } from './decision.js';
import type { CompiledRoute } from './policy-set.js';

/** A normalized path with `;` parameters in some segment (`/admin;x=1`, `/a%3Bb`). */
export function hasPathParameters(path: string): boolean {
  return path.includes(';') || path.includes('%3B');
}

/** The path as Tomcat, Jetty or Spring route it: every segment's `;…` removed, slashes merged. */
export function withoutParameters(path: string): string | undefined {
  const stripped = path
    .split('/')
    .map((seg) => {
      const at = parameterStart(seg);
      return at < 0 ? seg : seg.slice(0, at);
    })
    .join('/');
  const n = normalizePath(stripped);
  return n.ok ? n.path : undefined;
}

/**
 * Path parameters are where the upstream and the policy can disagree: `/admin;x=1` is
 * `/admin` to a Java servlet container but misses an exact `/admin` route. So a path with
 * parameters is refused (400 `invalid-path`, as Spring's StrictHttpFirewall does) unless
 * the route chosen for it sets `allow_path_parameters`, and only when the path without its
 * parameters would choose that same route by its `match` (Verdict's own matching, whatever
 * Envoy named): an opt-in catch-all cannot carry a request for a stricter route.
 */
export function refusePathParameters(facts: RequestFacts, selected: CompiledRoute, select: (f: RequestFacts) => CompiledRoute | string): Decision | undefined {
  if (!hasPathParameters(facts.path)) return undefined;
  if (selected.source.allow_path_parameters !== true) {
    return denial(400, ['invalid-path'], selected.id, `path parameters (;) in a path of route ${JSON.stringify(selected.id)}, which does not set allow_path_parameters`);
  }
  const plain = withoutParameters(facts.path);
  const owner = plain === undefined ? undefined : select({ ...facts, path: plain, routeId: undefined });
  if (owner !== selected) {
    const who = owner === undefined || typeof owner === 'string' ? 'no route' : `route ${JSON.stringify(owner.id)}`;
    return denial(400, ['invalid-path'], selected.id, `without its path parameters the path is matched by ${who}, not by route ${JSON.stringify(selected.id)}`);
  }
  return undefined;
}
