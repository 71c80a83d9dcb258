import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate } from '../../../src/policy/evaluate.js';
import { decide, facts, policyOf, principal } from '../../helpers/policy.js';

const sre = principal({ groups: ['sre'] });
const dev = principal({ sub: 'bob', groups: ['dev'] });

describe('decisions', () => {
  it('deny overrides allow, reporting the deny criteria', () => {
    const d = decide({ allow: { groups: { has: 'sre' } }, deny: { http_method: 'DELETE' } }, facts({ method: 'DELETE' }), sre);
    assert.equal(d.status, 403);
    assert.deepEqual(d.reasons, ['http-method-ok']);
  });

  it('a missing allow allows nothing and reports reject', () => {
    const d = decide({}, facts(), sre);
    assert.equal(d.status, 403);
    assert.deepEqual(d.reasons, ['reject']);
  });

  it('a public allow with a deny on some users still makes anonymous callers log in', () => {
    const d = decide({ allow: { accept: true }, deny: { user: 'mallory' } }, facts(), undefined);
    assert.equal(d.status, 401);
    assert.deepEqual(d.reasons, ['user-unauthenticated']);
    assert.equal(decide({ allow: { accept: true }, deny: { user: 'mallory' } }, facts(), dev).status, 200);
    assert.equal(decide({ allow: { accept: true }, deny: { user: 'bob' } }, facts(), dev).status, 403);
  });

  it('is 403, not 401, when no identity could change the outcome', () => {
    const rules = { allow: { and: [{ http_method: 'GET' }, { groups: { has: 'sre' } }] } };
    assert.equal(decide(rules, facts({ method: 'POST' }), undefined).status, 403);
    assert.deepEqual(decide(rules, facts({ method: 'POST' }), undefined).reasons, ['http-method-unauthorized']);
    assert.equal(decide(rules, facts({ method: 'GET' }), undefined).status, 401);
    // deny needs identity but allow is false anyway: forbidden for everyone.
    const d = decide({ allow: { http_method: 'GET' }, deny: { user: 'x' } }, facts({ method: 'POST' }), undefined);
    assert.equal(d.status, 403);
  });

  it('or: any true allows and reports only the satisfied branches', () => {
    const rules = { allow: { or: [{ groups: { has: 'sre' } }, { email: 'boss@example.com' }, { http_method: 'HEAD' }] } };
    const d = decide(rules, facts(), sre);
    assert.equal(d.status, 200);
    assert.deepEqual(d.reasons, ['groups-ok']);
    const anon = decide(rules, facts({ method: 'HEAD' }), undefined);
    assert.equal(anon.status, 200, 'a true branch decides even when others need identity');
    assert.deepEqual(anon.reasons, ['http-method-ok']);
  });

  it('and: reports every failed criterion on a default deny', () => {
    const rules = { allow: { and: [{ groups: { has: 'admins' } }, { source_ip: { in: ['10.0.0.0/8'] } }, { http_method: 'GET' }] } };
    const d = decide(rules, facts(), sre);
    assert.equal(d.status, 403);
    assert.deepEqual(d.reasons.slice().sort(), ['groups-unauthorized', 'source-ip-unauthorized']);
  });

  it('not flips the value and keeps what was checked', () => {
    const d = decide({ allow: { not: { groups: { has: 'contractors' } } } }, facts(), sre);
    assert.equal(d.status, 200);
    assert.deepEqual(d.reasons, ['groups-unauthorized']);
    assert.equal(decide({ allow: { not: { groups: { has: 'sre' } } } }, facts(), sre).status, 403);
    assert.equal(decide({ allow: { not: { groups: { has: 'sre' } } } }, facts(), undefined).status, 401);
  });

  it('reports an invalid token beside user-unauthenticated', () => {
    const policy = policyOf([{ id: 'r', match: {}, allow: { authenticated_user: true } }]);
    const d = evaluate(policy, facts(), undefined, Date.now(), { requireRouteId: false, identityError: 'invalid-token' });
    assert.equal(d.status, 401);
    assert.deepEqual(d.reasons, ['invalid-token', 'user-unauthenticated']);
  });
});

describe('route selection', () => {
  const policy = policyOf([
    { id: 'exact', match: { hosts: ['app.example.com'], path: '/login' }, allow: { accept: true } },
    { id: 'wild', match: { hosts: ['*.example.com'], path_prefix: '/api/', methods: ['GET'] }, allow: { accept: true } },
    { id: 'regex', match: { hosts: ['app.example.com'], path_regex: '/u/[0-9]+' }, allow: { accept: true } },
    { id: 'any-host', match: { path_prefix: '/public' }, allow: { accept: true } },
    { id: 'unmatched' },
  ]);
  const route = (f: Parameters<typeof facts>[0], requireRouteId = false) => evaluate(policy, facts(f), undefined, Date.now(), { requireRouteId }).route;

  it('matches in order on normalized host and path', () => {
    assert.equal(route({ path: '/login' }), 'exact');
    assert.equal(route({ host: 'x.example.com', path: '/api/v1' }), 'wild');
    assert.equal(route({ host: 'a.b.example.com', path: '/api/v1' }), 'wild');
    assert.equal(route({ host: 'example.com', path: '/api/v1' }), undefined, 'a wildcard does not match the apex');
    assert.equal(route({ host: 'x.example.com', path: '/api/v1', method: 'POST' }), undefined);
    assert.equal(route({ path: '/u/42' }), 'regex');
    assert.equal(route({ path: '/u/42/x' }), undefined, 'regexes are anchored');
    assert.equal(route({ host: 'other.org', path: '/public/x' }), 'any-host');
  });

  it('uses context_extensions.route and nothing else when present', () => {
    assert.equal(route({ path: '/login', routeId: 'unmatched' }), 'unmatched');
    const d = evaluate(policy, facts({ path: '/login', routeId: 'nope' }), undefined, Date.now(), { requireRouteId: false });
    assert.equal(d.status, 404);
    assert.deepEqual(d.reasons, ['route-not-found']);
  });

  it('denies requests without a route id when require_route_id is set', () => {
    const d = evaluate(policy, facts({ path: '/login' }), undefined, Date.now(), { requireRouteId: true });
    assert.equal(d.status, 404);
    assert.deepEqual(d.reasons, ['route-not-found']);
    assert.match(d.detail!, /require_route_id/);
    assert.equal(route({ path: '/x', routeId: 'exact' }, true), 'exact');
  });
});

describe('dry-run (shadow) policies', () => {
  it('are evaluated beside the real rules and never enforced', () => {
    const policy = policyOf([{ id: 'r', match: {}, allow: { groups: { has: 'sre' } }, shadow: { allow: { groups: { has: 'admins' } }, deny: { http_method: 'DELETE' } } }]);
    const d = evaluate(policy, facts(), sre, Date.now(), { requireRouteId: false });
    assert.equal(d.allow, true, 'the real policy decides');
    assert.deepEqual(d.shadow, { allow: false, status: 403, reasons: ['groups-unauthorized'] });
    const del = evaluate(policy, facts({ method: 'DELETE' }), sre, Date.now(), { requireRouteId: false });
    assert.equal(del.allow, true);
    assert.deepEqual(del.shadow?.reasons, ['http-method-ok']);
    const anon = evaluate(policy, facts(), undefined, Date.now(), { requireRouteId: false });
    assert.equal(anon.shadow?.status, 401);
    assert.equal(evaluate(policyOf([{ id: 'r', match: {}, allow: { accept: true } }]), facts(), undefined, Date.now(), { requireRouteId: false }).shadow, undefined);
  });
});
