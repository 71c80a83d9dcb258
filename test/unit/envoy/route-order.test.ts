import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_ENVOY_OPTIONS } from '../../../src/envoy/envoy-options.js';
import { generateBootstrap } from '../../../src/envoy/generate-bootstrap.js';
import type { PolicySet } from '../../../src/policy/policy-set.js';
import { envoyRouteFor, ingressRoutes } from '../../helpers/envoy-route-model.js';
import { METHODS, PATHS, pick, randomRoute, REQUEST_HOSTS, rng } from '../../helpers/random-routes.js';
import { facts, policyOf } from '../../helpers/policy.js';

/** Verdict's definition: the first route, in policy order, whose `match` accepts. */
function linearFirstMatch(policy: PolicySet, host: string, path: string, method: string): string | undefined {
  const f = facts({ host, path, method });
  return policy.routes.find((r) => r.match !== undefined && r.match(f))?.id;
}


describe('the generated Envoy config picks the route Verdict\'s first match picks', () => {
  it('for random policies and requests (Envoy\'s virtual host then route selection, modelled)', () => {
    let checked = 0;
    let routed = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const policy = policyOf(Array.from({ length: 1 + Math.floor(r() * 30) }, (_, i) => randomRoute(r, i, (n) => `http://10.0.0.${n % 4}:80`)));
      const routes = ingressRoutes(generateBootstrap(policy, DEFAULT_ENVOY_OPTIONS));
      for (let q = 0; q < 60; q++) {
        const [host, path, method] = [pick(r, REQUEST_HOSTS), pick(r, PATHS), pick(r, METHODS)];
        const want = linearFirstMatch(policy, host, path, method);
        assert.equal(envoyRouteFor(routes, host, path, method), want, `seed ${seed}: ${method} ${host}${path}`);
        checked++;
        if (want !== undefined) routed++;
      }
    }
    assert.equal(checked, 12_000);
    assert.ok(routed > 4_000, `most requests find a route (${routed})`);
  });

  it('an earlier wildcard or any-host rule is not skipped for a host with its own virtual host; a route without `to` keeps its place', () => {
    const policy = policyOf([
      { id: 'admin-only', match: { hosts: ['*.corp.test'], path_prefix: '/admin' }, to: 'http://10.0.0.1:80', allow: { groups: { has: 'admins' } } },
      { id: 'no-status', match: { path: '/server-status' }, to: 'http://10.0.0.1:80', allow: { reject: true } },
      { id: 'private-docs', match: { hosts: ['docs.corp.test'], path_prefix: '/private' }, allow: { reject: true } },
      { id: 'wiki', match: { hosts: ['wiki.corp.test'] }, to: 'http://10.0.0.2:80', allow: { accept: true } },
      { id: 'docs', match: { hosts: ['docs.corp.test'] }, to: 'http://10.0.0.3:80', allow: { accept: true } },
    ]);
    const routes = ingressRoutes(generateBootstrap(policy, DEFAULT_ENVOY_OPTIONS));
    assert.equal(envoyRouteFor(routes, 'wiki.corp.test', '/admin/users', 'GET'), 'admin-only');
    assert.equal(envoyRouteFor(routes, 'wiki.corp.test', '/server-status', 'GET'), 'no-status');
    assert.equal(envoyRouteFor(routes, 'docs.corp.test', '/private/x', 'GET'), 'private-docs');
    assert.equal(envoyRouteFor(routes, 'docs.corp.test', '/public', 'GET'), 'docs');
    const privateDocs = (routes.virtual_hosts as Record<string, any>[]).find((v) => v.domains.includes('docs.corp.test'))!.routes.find((x: Record<string, any>) => x.name === 'private-docs');
    assert.equal(privateDocs.direct_response.status, 404, 'allowed by Verdict, answered by Envoy: there is no upstream');
  });
});
