import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_ENVOY_OPTIONS } from '../../../src/envoy/envoy-options.js';
import { generateBootstrap } from '../../../src/envoy/generate-bootstrap.js';
import { withoutParameters } from '../../../src/policy/path-parameters.js';
import { policyOf } from '../../helpers/policy.js';

type Obj = Record<string, any>;

/** The Envoy route matches of the generated bootstrap, by route name. */
function matches(routes: unknown[]): Map<string, Obj> {
  const b = generateBootstrap(policyOf(routes), DEFAULT_ENVOY_OPTIONS) as Obj;
  const out = new Map<string, Obj>();
  for (const l of b.static_resources.listeners as Obj[]) {
    const rc = l.filter_chains[0].filters[0].typed_config.route_config;
    for (const vh of rc?.virtual_hosts ?? []) for (const r of vh.routes) out.set(r.name, r.match);
  }
  return out;
}

describe('routes with allow_path_parameters in the generated Envoy config', () => {
  const m = matches([
    { id: 'exact', match: { path: '/legacy/login' }, to: 'http://10.0.0.1:80', allow_path_parameters: true, allow: { accept: true } },
    { id: 'prefix', match: { path_prefix: '/shop/' }, to: 'http://10.0.0.1:80', allow_path_parameters: true, allow: { accept: true } },
    { id: 'plain', match: { path: '/admin' }, to: 'http://10.0.0.1:80', allow: { accept: true } },
    { id: 'all', match: { path_prefix: '/' }, to: 'http://10.0.0.1:80', allow_path_parameters: true, allow: { accept: true } },
  ]);

  it('routes without the opt-in keep plain path and prefix matches', () => {
    assert.deepEqual(m.get('plain'), { path: '/admin' });
    assert.deepEqual(m.get('all'), { prefix: '/' });
  });

  it("an opted-in route's regex takes exactly the paths whose parameter-free form the route matches", () => {
    const exact = new RegExp(m.get('exact')!.safe_regex.regex);
    const prefix = new RegExp(m.get('prefix')!.safe_regex.regex);
    for (const p of ['/legacy/login', '/legacy/login;jsessionid=1', '/legacy;x/login', '/legacy;a=1/login;b=2']) {
      assert.ok(exact.test(p), p);
      assert.equal(withoutParameters(p), '/legacy/login');
    }
    for (const p of ['/legacy/login/', '/legacy/loginx', '/legacy/login;x/y', '/legacyx/login', '/legacy/log;x/in']) assert.ok(!exact.test(p), p);
    for (const p of ['/shop/', '/shop/cart', '/shop;x/cart', '/shop;jsessionid=1/a/b']) assert.ok(prefix.test(p), p);
    for (const p of ['/shop', '/shopping/cart', '/sh;x/op/cart']) assert.ok(!prefix.test(p), p);
  });

  it('escapes regex characters of the path', () => {
    const r = matches([{ id: 'dots', match: { path: '/a.b/c+d' }, to: 'http://10.0.0.1:80', allow_path_parameters: true, allow: { accept: true } }]).get('dots')!;
    const re = new RegExp(r.safe_regex.regex);
    assert.ok(re.test('/a.b/c+d;x'));
    assert.ok(!re.test('/aXb/c+d'));
    assert.ok(!re.test('/a.b/ccd'));
  });
});
