import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate } from '../../../src/policy/evaluate.js';
import { withoutParameters } from '../../../src/policy/path-parameters.js';
import { normalizePath } from '../../../src/request/normalize-path.js';
import { facts, policyOf } from '../../helpers/policy.js';

const OPTS = { requireRouteId: false };
const NOW = Date.parse('2026-11-23T10:00:00Z');

/** Facts for a raw target as a transport would build them (normalized path). */
function at(raw: string, over: { routeId?: string } = {}) {
  const p = normalizePath(raw);
  assert.ok(p.ok, `${raw} normalizes`);
  return facts({ path: p.path, ...over });
}

describe('path parameters (;)', () => {
  const strict = policyOf([
    { id: 'admin', match: { path: '/admin' }, allow: { reject: true } },
    { id: 'admin-area', match: { path_prefix: '/admin/' }, allow: { reject: true } },
    { id: 'public', match: { path_prefix: '/' }, allow: { accept: true } },
  ]);

  for (const raw of ['/admin;x=1', '/admin;', '/admin;jsessionid=1', '/admin%3Bx', '/admin;x/secret', '/a;b/c', '/x;']) {
    it(`refuses ${raw} on routes that do not opt in (400 invalid-path), whichever route it falls to`, () => {
      const d = evaluate(strict, at(raw), undefined, NOW, OPTS);
      assert.equal(d.allow, false);
      assert.equal(d.status, 400);
      assert.deepEqual(d.reasons, ['invalid-path']);
    });
  }

  it('refuses the same when Envoy named the catch-all route', () => {
    const d = evaluate(strict, at('/admin;x=1', { routeId: 'public' }), undefined, NOW, OPTS);
    assert.equal(d.status, 400);
    assert.equal(d.route, 'public');
  });

  it('plain paths are unaffected', () => {
    assert.equal(evaluate(strict, at('/hello'), undefined, NOW, OPTS).status, 200);
    assert.equal(evaluate(strict, at('/admin'), undefined, NOW, OPTS).status, 403);
  });

  const optIn = policyOf([
    { id: 'admin', match: { path: '/admin' }, allow: { reject: true } },
    { id: 'admin-area', match: { path_prefix: '/admin/' }, allow: { reject: true } },
    { id: 'legacy', match: { path_prefix: '/shop/' }, allow_path_parameters: true, allow: { accept: true } },
    { id: 'public', match: { path_prefix: '/' }, allow_path_parameters: true, allow: { accept: true } },
  ]);

  it('a route that opts in accepts its own paths with parameters', () => {
    const d = evaluate(optIn, at('/shop/cart;jsessionid=AB12'), undefined, NOW, OPTS);
    assert.equal(d.status, 200);
    assert.equal(d.route, 'legacy');
    assert.equal(evaluate(optIn, at('/shop/cart;jsessionid=AB12', { routeId: 'legacy' }), undefined, NOW, OPTS).status, 200);
  });

  for (const raw of ['/admin;x=1', '/admin;', '/admin;x/secret', '/admin;x=1/']) {
    it(`an opt-in catch-all cannot carry ${raw}, which is /admin… to the upstream`, () => {
      const byMatch = evaluate(optIn, at(raw), undefined, NOW, OPTS);
      assert.equal(byMatch.status, 400);
      assert.deepEqual(byMatch.reasons, ['invalid-path']);
      // Envoy's exact /admin route misses /admin;x=1 and names the catch-all: still refused.
      const byId = evaluate(optIn, at(raw, { routeId: 'public' }), undefined, NOW, OPTS);
      assert.equal(byId.status, 400);
    });
  }

  it('withoutParameters reads the path as servlet containers route it', () => {
    assert.equal(withoutParameters('/admin;x=1'), '/admin');
    assert.equal(withoutParameters('/admin;x/secret;y=2'), '/admin/secret');
    assert.equal(withoutParameters('/;x/admin'), '/admin');
    assert.equal(withoutParameters('/a%3Bb/c'), '/a/c');
  });
});
