import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonical, canonicalGeneral, link } from '../../../src/audit/chain.js';
import { decisionRecord } from '../../../src/audit/record.js';

// The fast path (native JSON.stringify on keys put in order) must give the very bytes of the
// general serializer, or old trails would stop verifying and new ones would hash differently.
const same = (v: unknown) => assert.equal(canonical(v), canonicalGeneral(v), JSON.stringify(v));

describe('canonical JSON: fast path = general path', () => {
  it('flat records in any key order, with undefined values left out', () => {
    same({ b: 1, a: 'x', c: undefined, d: null, e: true, f: -0, g: Number.NaN, h: Infinity, i: 1.5e-7 });
    same({ 'verdict.reasons': ['allow', 'rule'], 'event.action': 'authorize', time: '2026-12-01T00:00:00.000Z', seq: 3, prev_hash: null, 'log.level': 'info' });
    same({});
  });

  it('nested claims: objects sorted at every level, arrays kept in order', () => {
    same({ z: { y: [3, { b: 2, a: 1 }, 'q'], x: { d: { c: 1, b: [undefined] } } }, a: [[], {}] });
  });

  it('line breakers, quotes, controls and lone surrogates in keys and values', () => {
    same({ 'k\u2028': 'a\u2029b\u0085c\u007fd\u009f', q: '"\\\n\t\u0000', s: '\ud800x\udfff', u: 'héllo ☃ 😀' });
    assert.ok(!/[\u2028\u2029\u0085]/.test(canonical({ a: '\u2028\u2029\u0085' })!));
  });

  it('values JSON.stringify would write differently fall back to the general path', () => {
    same({ a: new Date(0), b: 1 });
    same({ 10: 'x', 2: 'y', a: 1 });
    same({ a: { 1: 'one', '01': 'z' } });
    same(JSON.parse('{"__proto__": {"x": 1}, "a": 2}'));
    same({ toJSON: 'not a function', a: 1 });
    same({ a: () => 1, b: Symbol('s'), c: 2 });
    same({ a: [() => 1, undefined, Symbol('t')] });
    same({ a: Object.assign(Object.create(null), { b: 1, a: 2 }) });
    same({ a: new Map([[1, 2]]) });
  });

  it('random records agree', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const chars = 'ab.Z_0é\u2028\u0085"\\ 9';
    const str = () => Array.from({ length: Math.floor(rnd() * 6) }, () => chars[Math.floor(rnd() * chars.length)]).join('');
    const value = (depth: number): unknown => {
      const r = rnd();
      if (depth > 2 || r < 0.3) return str();
      if (r < 0.4) return Math.floor(rnd() * 1e6) / 7;
      if (r < 0.5) return rnd() < 0.5 ? null : undefined;
      if (r < 0.6) return rnd() < 0.5;
      if (r < 0.8) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 5) }, () => [str(), value(depth + 1)]));
    };
    for (let i = 0; i < 2000; i++) same(value(0));
  });

  it('a linked decision record hashes the general canonical text', () => {
    const record = decisionRecord({
      decisionId: 'd1', timeMs: 0, transport: 'grpc', decision: { allow: true, status: 200, reasons: ['allow'], route: 'r1' }, facts: undefined, rawPath: undefined,
      identity: { kind: 'none' }, policyHash: 'h', durationMs: 0.1, includeQuery: false,
    } as unknown as Parameters<typeof decisionRecord>[0]);
    const keys = Object.keys(record);
    // Built in key order (places for log.level, prev_hash, seq included): no sorting copy per record.
    assert.deepEqual(keys, [...keys].sort());
    for (const k of ['log.level', 'prev_hash', 'seq']) assert.ok(keys.includes(k), k);
    // A session's hash and stale claims, and a raw path that differs from the normalized one, have their places too.
    const withSession = decisionRecord({
      decisionId: 'd2', timeMs: 0, transport: 'grpc', decision: { allow: true, status: 200, reasons: ['allow'], route: 'r1' },
      facts: { method: 'GET', methodOverrides: [], scheme: 'https', host: 'h', path: '/a', query: '', headers: new Map() }, rawPath: '/x/../a?q=1',
      identity: { kind: 'principal', principal: { method: 'session', subject: 's', groups: [], claims: {}, issuer: 'i', sessionId: 'sid', claimsStale: true } }, policyHash: 'h', durationMs: 0.1, includeQuery: false,
    } as unknown as Parameters<typeof decisionRecord>[0]);
    assert.equal(withSession['verdict.raw_path'], '/x/../a');
    assert.equal(withSession['verdict.session_claims_stale'], true);
    assert.equal(typeof withSession['verdict.session_hash'], 'string');
    const sessionKeys = Object.keys(withSession);
    assert.deepEqual(sessionKeys, [...sessionKeys].sort());
    record['log.level'] = 'info';
    const { json, record: linked } = link(record, { seq: 4, hash: 'abc' });
    const { hash, ...rest } = linked;
    assert.equal(json, `${canonicalGeneral(rest)!.slice(0, -1)},"hash":"${hash as string}"}`);
  });
});
