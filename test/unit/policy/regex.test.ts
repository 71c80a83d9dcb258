import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate } from '../../../src/policy/evaluate.js';
import { compileAnchoredRegex } from '../../../src/policy/regex.js';
import { decide, facts, policyOf } from '../../helpers/policy.js';

describe('policy regexes run on a linear-time engine (RE2)', () => {
  it('the red team pattern (?:[0-9]|\\d){1,30} answers a 28-byte header (it backtracked for seconds before)', () => {
    const rules = { allow: { header: { name: 'x-id', matches: '(?:[0-9]|\\d){1,30}' } } };
    // 28 digits and a non-digit: a backtracking engine tries 2^28 ways to split the digits.
    const evil = `${'1'.repeat(27)}x`;
    assert.equal(evil.length, 28);
    assert.equal(decide(rules, facts({ headerList: { 'x-id': evil } })).status, 403);
    assert.equal(decide(rules, facts({ headerList: { 'x-id': '1'.repeat(28) } })).status, 200);
  });

  it('patterns a backtracking engine cannot run are accepted and answer long inputs', () => {
    const policy = policyOf([
      { id: 'nested', match: { path_regex: '/(a+)+b' }, allow: { accept: true } },
      { id: 'poly', match: { path_regex: '/.*a.*a.*a.*c' }, allow: { accept: true } },
      { id: 'alt', match: { path_regex: '/(x|x)*y' }, allow: { accept: true } },
    ]);
    const options = { requireRouteId: false };
    const long = `/${'a'.repeat(20_000)}`;
    assert.equal(evaluate(policy, facts({ path: long }), undefined, 0, options).status, 404);
    assert.equal(evaluate(policy, facts({ path: `${long}b` }), undefined, 0, options).route, 'nested');
    assert.equal(evaluate(policy, facts({ path: `${long}c` }), undefined, 0, options).route, 'poly');
    assert.equal(evaluate(policy, facts({ path: `/${'x'.repeat(20_000)}` }), undefined, 0, options).status, 404);
  });

  it('matches the whole value, with RE2 syntax', () => {
    const t = (src: string) => compileAnchoredRegex(src, '/x');
    assert.equal(t('abc')('xabc'), false, 'anchored at the start');
    assert.equal(t('abc')('abcx'), false, 'anchored at the end');
    assert.equal(t('a|b')('b'), true, 'an alternation is anchored as a whole');
    assert.equal(t('a|b')('ab'), false);
    assert.equal(t('abc$')('abc\n'), false, '$ is the end of the value, never before a final newline');
    assert.equal(t('(?i)grafana')('GraFana'), true, 'inline flags');
    assert.equal(t('[[:digit:]]+')('123'), true, 'POSIX classes');
    assert.equal(t('\\pL+')('Grüße'), true, 'Unicode classes');
    assert.equal(t('.')('😀'), true, '. is one code point');
    assert.equal(t('(?P<id>[0-9]+)')('42'), true, 'named groups');
  });
});
