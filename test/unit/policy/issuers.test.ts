import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate } from '../../../src/policy/evaluate.js';
import { facts, policyOf, principal } from '../../helpers/policy.js';

const HOME = 'https://idp.test';
const OTHER = 'https://other.test';

describe('issuer scoping in evaluation', () => {
  const decide = (rules: Record<string, unknown>, iss: string, defaults: string[] | null = [HOME]) =>
    evaluate(policyOf([{ id: 'r', match: { path_prefix: '/' }, ...rules }]), facts(), principal({ iss, sub: 'alice', email: 'alice@example.com', groups: ['sre'] }), Date.now(), {
      requireRouteId: false,
      defaultIssuers: defaults === null ? undefined : new Set(defaults),
    });

  it('every identity criterion is unknown (issuer-untrusted, 401) for an untrusted issuer', () => {
    for (const allow of [{ user: 'alice' }, { email: 'alice@example.com' }, { domain: 'example.com' }, { groups: { has: 'sre' } }, { claim: { name: 'sub', has: 'alice' } }, { authenticated_user: true }, { session_age: { max: '1h' } }]) {
      assert.equal(decide({ allow }, HOME).status, allow.session_age ? 403 : 200, JSON.stringify(allow));
      const d = decide({ allow }, OTHER);
      assert.deepEqual([d.status, d.reasons], [401, ['issuer-untrusted']], JSON.stringify(allow));
    }
  });

  it('`not` cannot turn an untrusted identity into a match', () => {
    const d = decide({ allow: { not: { groups: { has: 'banned' } } } }, OTHER);
    assert.equal(d.allow, false);
    assert.equal(d.status, 401);
  });

  it('route issuers replace the default; no configured issuer trusts any (verdict test without config)', () => {
    assert.equal(decide({ issuers: [OTHER], allow: { user: 'alice' } }, OTHER).status, 200);
    assert.equal(decide({ issuers: [OTHER], allow: { user: 'alice' } }, HOME).status, 401);
    assert.equal(decide({ issuers: [HOME, OTHER], allow: { user: 'alice' } }, HOME).status, 200);
    assert.equal(decide({ allow: { user: 'alice' } }, OTHER, null).status, 200);
  });
});
