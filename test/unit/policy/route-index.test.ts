import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CompiledRoute, PolicySet } from '../../../src/policy/policy-set.js';
import type { RequestFacts } from '../../../src/request/facts.js';
import { facts, policyOf } from '../../helpers/policy.js';
import { pick, rng } from '../../helpers/random-routes.js';

/** The definition the index must keep: the first route, in order, whose matcher accepts. */
function linearFirstMatch(policy: PolicySet, f: RequestFacts): CompiledRoute | undefined {
  for (const r of policy.routes) if (r.match !== undefined && r.match(f)) return r;
  return undefined;
}

// Its own lists, wider than the Envoy ones (random-routes.ts): hosts Envoy would refuse or
// normalise before Verdict sees them, and path parameters.
const HOST_PATTERNS = ['a.com', 'b.a.com', 'x.b.a.com', 'A.com', 'a.com.', '*.a.com', '*.B.a.com', '*.com', 'c.org', '*.c.org'];
const REQUEST_HOSTS = ['a.com', 'b.a.com', 'x.b.a.com', 'y.x.b.a.com', 'z.a.com', 'c.org', 'd.c.org', 'com', 'other.net', '[::1]', '', '.a.com', 'a..a.com'];
const PATHS = ['/', '/a', '/ab', '/a/', '/a/b', '/a/b/c', '/b', '/b/1', '/u/42', '/a;x=1', '/ab/c'];
const REGEXES = ['/a.*', '/u/[0-9]+', '/(a|b)/.*', '/a;.*', '.*b'];
const METHODS = ['GET', 'POST', 'DELETE'];

function randomRoute(r: () => number, i: number): Record<string, unknown> {
  const route: Record<string, unknown> = { id: `r${i}`, allow: { accept: true } };
  const kind = r();
  if (kind < 0.05) return route; // no match: reachable only by id
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

describe('route index', () => {
  it('gives exactly the linear first-match answer for random policies and requests', () => {
    let checked = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const policy = policyOf(Array.from({ length: 1 + Math.floor(r() * 60) }, (_, i) => randomRoute(r, i)));
      for (let q = 0; q < 60; q++) {
        const f = facts({ host: pick(r, REQUEST_HOSTS), path: pick(r, PATHS), method: pick(r, METHODS) });
        const want = linearFirstMatch(policy, f)?.id;
        assert.equal(policy.index.lookup(f)?.id, want, `seed ${seed}: ${f.method} ${f.host}${f.path}`);
        checked++;
      }
    }
    assert.equal(checked, 18_000);
  });

  it('keeps policy order across buckets: wildcard before exact, any-host before both, regex in between', () => {
    const policy = policyOf([
      { id: 'wild', match: { hosts: ['*.example.com'], path_prefix: '/wild' }, allow: { accept: true } },
      { id: 'regex', match: { hosts: ['app.example.com'], path_regex: '/u/[0-9]+' }, allow: { accept: true } },
      { id: 'any-host', match: { path: '/health' }, allow: { accept: true } },
      { id: 'exact', match: { hosts: ['app.example.com'], path_prefix: '/' }, allow: { accept: true } },
      { id: 'later-wild', match: { hosts: ['*.example.com'] }, allow: { accept: true } },
    ]);
    const at = (host: string, path: string) => policy.index.lookup(facts({ host, path }))?.id;
    assert.equal(at('app.example.com', '/wild/x'), 'wild', 'an earlier wildcard beats a later exact host');
    assert.equal(at('app.example.com', '/u/7'), 'regex');
    assert.equal(at('app.example.com', '/u/7/x'), 'exact', 'regexes are anchored; the next route in order wins');
    assert.equal(at('app.example.com', '/health'), 'any-host', 'a route for any host keeps its place');
    assert.equal(at('other.example.com', '/x'), 'later-wild');
    assert.equal(at('deep.other.example.com', '/x'), 'later-wild', 'wildcards match at any depth');
    assert.equal(at('example.com', '/x'), undefined, 'a wildcard never matches its own domain');
  });
});
