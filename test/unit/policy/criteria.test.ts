import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CRITERIA } from '../../../src/policy/criteria/index.js';
import { parseSourceIp } from '../../../src/policy/criteria/source-ip.js';
import { decide, facts, principal } from '../../helpers/policy.js';

type Row = {
  rule: unknown;
  tailnet?: { user?: string; node: string; tags: string[] } | 'none';
  who?: Record<string, unknown> | 'anonymous';
  req?: Parameters<typeof facts>[0];
  now?: string;
  status: number;
  reasons: string[];
};

const alice = { sub: 'alice', email: 'alice@example.com', groups: ['sre', 'dev'], team: 'platform', level: 3, scope: 'read write', auth_time: Date.parse('2026-11-23T08:00:00Z') / 1000 };

// Every criterion with every matcher form: both outcomes, and anonymous where an identity is needed.
const table: Record<string, Row[]> = {
  accept: [{ rule: { accept: true }, who: 'anonymous', status: 200, reasons: ['accept'] }],
  reject: [{ rule: { reject: true }, status: 403, reasons: ['reject'] }],
  authenticated_user: [
    { rule: { authenticated_user: true }, status: 200, reasons: ['authenticated-user-ok'] },
    { rule: { authenticated_user: true }, who: 'anonymous', status: 401, reasons: ['user-unauthenticated'] },
  ],
  user: [
    { rule: { user: 'alice' }, status: 200, reasons: ['user-ok'] },
    { rule: { user: { is: 'bob' } }, status: 403, reasons: ['user-unauthorized'] },
    { rule: { user: { in: ['bob', 'alice'] } }, status: 200, reasons: ['user-ok'] },
    { rule: { user: { not_in: ['alice'] } }, status: 403, reasons: ['user-unauthorized'] },
    { rule: { user: { not_in: ['bob'] } }, status: 200, reasons: ['user-ok'] },
    { rule: { user: { starts_with: 'ali' } }, status: 200, reasons: ['user-ok'] },
    { rule: { user: { ends_with: 'ice' } }, status: 200, reasons: ['user-ok'] },
    { rule: { user: { contains: 'lic' } }, status: 200, reasons: ['user-ok'] },
    { rule: { user: { contains: 'bob' } }, status: 403, reasons: ['user-unauthorized'] },
    { rule: { user: { matches: 'a[a-z]+' } }, status: 200, reasons: ['user-ok'] },
    { rule: { user: { matches: 'lic' } }, status: 403, reasons: ['user-unauthorized'] },
    { rule: { user: 'alice' }, who: 'anonymous', status: 401, reasons: ['user-unauthenticated'] },
  ],
  email: [
    { rule: { email: 'alice@example.com' }, status: 200, reasons: ['email-ok'] },
    { rule: { email: { ends_with: '@example.org' } }, status: 403, reasons: ['email-unauthorized'] },
    { rule: { email: 'alice@example.com' }, who: { ...alice, email_verified: false }, status: 403, reasons: ['email-unauthorized'] },
    { rule: { email: { not_in: ['x@example.com'] } }, who: { sub: 'n' }, status: 200, reasons: ['email-ok'] },
    { rule: { email: 'alice@example.com' }, who: 'anonymous', status: 401, reasons: ['user-unauthenticated'] },
    // Case: emails compare case-insensitively, whichever side has the capitals.
    { rule: { email: 'alice@example.com' }, who: { ...alice, email: 'Alice@Example.COM' }, status: 200, reasons: ['email-ok'] },
    { rule: { email: { in: ['ALICE@example.com'] } }, status: 200, reasons: ['email-ok'] },
    { rule: { email: { not_in: ['mallory@example.com'] } }, who: { sub: 'm', email: 'Mallory@Example.com' }, status: 403, reasons: ['email-unauthorized'] },
    { rule: { email: { ends_with: '@EXAMPLE.com' } }, status: 200, reasons: ['email-ok'] },
    // email_verified: only boolean true vouches for the email.
    ...(['true', 1, null, undefined, 'yes'] as unknown[]).map((v): Row => ({ rule: { email: 'alice@example.com' }, who: { ...alice, email_verified: v }, status: 403, reasons: ['email-unauthorized'] })),
    // Exactly one @: anything else is no email at all.
    { rule: { email: { ends_with: '@example.com' } }, who: { sub: 'x', email: 'attacker@evil.com@example.com' }, status: 403, reasons: ['email-unauthorized'] },
    { rule: { email: { not_in: ['x@example.com'] } }, who: { sub: 'x', email: 'noatsign' }, status: 200, reasons: ['email-ok'] },
  ],
  domain: [
    { rule: { domain: 'example.com' }, status: 200, reasons: ['domain-ok'] },
    { rule: { domain: 'example.com' }, who: { sub: 'a', email: 'A@EXAMPLE.COM' }, status: 200, reasons: ['domain-ok'] },
    { rule: { domain: { in: ['example.org'] } }, status: 403, reasons: ['domain-unauthorized'] },
    { rule: { domain: 'example.com' }, who: { sub: 'a', email: 'a@example.com', email_verified: false }, status: 403, reasons: ['domain-unauthorized'] },
    { rule: { domain: 'example.com' }, who: 'anonymous', status: 401, reasons: ['user-unauthenticated'] },
    { rule: { domain: 'EXAMPLE.com' }, status: 200, reasons: ['domain-ok'] },
    { rule: { domain: { not_in: ['evil.com'] } }, who: { sub: 'm', email: 'm@EVIL.com' }, status: 403, reasons: ['domain-unauthorized'] },
    { rule: { domain: 'example.com' }, who: { sub: 'x', email: 'attacker@evil.com@example.com' }, status: 403, reasons: ['domain-unauthorized'] },
    { rule: { domain: 'example.com' }, who: { sub: 'x', email: '@example.com' }, status: 403, reasons: ['domain-unauthorized'] },
    { rule: { domain: 'example.com' }, who: { sub: 'x', email: 'a@example.com', email_verified: 'true' }, status: 403, reasons: ['domain-unauthorized'] },
  ],
  groups: [
    { rule: { groups: { has: 'sre' } }, status: 200, reasons: ['groups-ok'] },
    { rule: { groups: { has: 'admins' } }, status: 403, reasons: ['groups-unauthorized'] },
    { rule: { groups: { has_any: ['admins', 'dev'] } }, status: 200, reasons: ['groups-ok'] },
    { rule: { groups: { has_any: ['admins', 'ops'] } }, status: 403, reasons: ['groups-unauthorized'] },
    { rule: { groups: { has_all: ['sre', 'dev'] } }, status: 200, reasons: ['groups-ok'] },
    { rule: { groups: { has_all: ['sre', 'admins'] } }, status: 403, reasons: ['groups-unauthorized'] },
    { rule: { groups: { exclude: 'contractors' } }, status: 200, reasons: ['groups-ok'] },
    { rule: { groups: { exclude: 'dev' } }, status: 403, reasons: ['groups-unauthorized'] },
    { rule: { groups: { has: 'sre' } }, who: 'anonymous', status: 401, reasons: ['user-unauthenticated'] },
    // One rule for groups: case-insensitive, in both directions.
    { rule: { groups: { has: 'banned' } }, who: { sub: 'm', groups: ['Banned'] }, status: 200, reasons: ['groups-ok'] },
    { rule: { groups: { exclude: 'banned' } }, who: { sub: 'm', groups: ['BANNED'] }, status: 403, reasons: ['groups-unauthorized'] },
    { rule: { groups: { has_any: ['SRE'] } }, status: 200, reasons: ['groups-ok'] },
    { rule: { groups: { has_all: ['Sre', 'DEV'] } }, status: 200, reasons: ['groups-ok'] },
  ],
  claim: [
    { rule: { claim: { name: 'team', has: 'platform' } }, status: 200, reasons: ['claim-ok'] },
    { rule: { claim: { name: 'level', has: '3' } }, status: 200, reasons: ['claim-ok'] },
    { rule: { claim: { name: 'groups', has_all: ['sre', 'dev'] } }, status: 200, reasons: ['claim-ok'] },
    { rule: { claim: { name: 'missing', has: 'x' } }, status: 403, reasons: ['claim-unauthorized'] },
    { rule: { claim: { name: 'missing', exclude: 'x' } }, status: 200, reasons: ['claim-ok'] },
    { rule: { claim: { name: 'team', has_any: ['a', 'b'] } }, status: 403, reasons: ['claim-unauthorized'] },
    { rule: { claim: { name: 'team', has: 'platform' } }, who: 'anonymous', status: 401, reasons: ['user-unauthenticated'] },
  ],
  http_method: [
    { rule: { http_method: 'GET' }, who: 'anonymous', status: 200, reasons: ['http-method-ok'] },
    { rule: { http_method: { in: ['POST', 'PUT'] } }, who: 'anonymous', status: 403, reasons: ['http-method-unauthorized'] },
    { rule: { http_method: { not_in: ['DELETE'] } }, who: 'anonymous', req: { method: 'DELETE' }, status: 403, reasons: ['http-method-unauthorized'] },
  ],
  http_path: [
    { rule: { http_path: { starts_with: '/api/' } }, who: 'anonymous', req: { path: '/api/x' }, status: 200, reasons: ['http-path-ok'] },
    { rule: { http_path: { matches: '/api/v[0-9]+/.*' } }, who: 'anonymous', req: { path: '/api/v2/users' }, status: 200, reasons: ['http-path-ok'] },
    { rule: { http_path: { matches: '/api' } }, who: 'anonymous', req: { path: '/api/v2' }, status: 403, reasons: ['http-path-unauthorized'] },
    { rule: { http_path: '/exact' }, who: 'anonymous', req: { path: '/exact/' }, status: 403, reasons: ['http-path-unauthorized'] },
  ],
  header: [
    { rule: { header: { name: 'X-Env', is: 'prod' } }, who: 'anonymous', req: { headerList: { 'x-env': 'prod' } }, status: 200, reasons: ['header-ok'] },
    { rule: { header: { name: 'x-env', in: ['dev', 'stage'] } }, who: 'anonymous', req: { headerList: { 'x-env': 'prod' } }, status: 403, reasons: ['header-unauthorized'] },
    { rule: { header: { name: 'x-env', is: 'prod' } }, who: 'anonymous', status: 403, reasons: ['header-unauthorized'] },
    { rule: { header: { name: 'x-env', not_in: ['prod'] } }, who: 'anonymous', status: 200, reasons: ['header-ok'] },
    { rule: { header: { name: 'user-agent', contains: 'curl' } }, who: 'anonymous', req: { headerList: { 'user-agent': 'curl/8' } }, status: 200, reasons: ['header-ok'] },
  ],
  source_ip: [
    { rule: { source_ip: { in: ['100.64.0.0/10'] } }, who: 'anonymous', status: 200, reasons: ['source-ip-ok'] },
    { rule: { source_ip: { in: ['10.0.0.0/8', '192.168.1.1'] } }, who: 'anonymous', status: 403, reasons: ['source-ip-unauthorized'] },
    { rule: { source_ip: { in: ['192.168.1.1'] } }, who: 'anonymous', req: { sourceIp: '192.168.1.1' }, status: 200, reasons: ['source-ip-ok'] },
    { rule: { source_ip: { in: ['100.64.0.0/10'] } }, who: 'anonymous', req: { sourceIp: '::ffff:100.64.3.4' }, status: 200, reasons: ['source-ip-ok'] },
    { rule: { source_ip: { in: ['fd7a:115c:a1e0::/48'] } }, who: 'anonymous', req: { sourceIp: 'fd7a:115c:a1e0:ab12::1' }, status: 200, reasons: ['source-ip-ok'] },
    { rule: { source_ip: { in: ['fd7a:115c:a1e0::/48'] } }, who: 'anonymous', status: 403, reasons: ['source-ip-unauthorized'] },
    { rule: { source_ip: { in: ['0.0.0.0/0'] } }, who: 'anonymous', req: { sourceIp: undefined }, status: 403, reasons: ['source-ip-unauthorized'] },
  ],
  time_of_day: [
    { rule: { time_of_day: { after: '08:00', before: '18:00' } }, who: 'anonymous', status: 200, reasons: ['time-of-day-ok'] },
    { rule: { time_of_day: { after: '12:00', before: '18:00' } }, who: 'anonymous', status: 403, reasons: ['time-of-day-unauthorized'] },
    { rule: { time_of_day: { after: '11:00', before: '12:00', timezone: 'Europe/Berlin' } }, who: 'anonymous', status: 200, reasons: ['time-of-day-ok'] },
    { rule: { time_of_day: { after: '22:00', before: '06:00' } }, who: 'anonymous', now: '2026-11-23T23:30:00Z', status: 200, reasons: ['time-of-day-ok'] },
    { rule: { time_of_day: { after: '22:00', before: '06:00' } }, who: 'anonymous', status: 403, reasons: ['time-of-day-unauthorized'] },
    { rule: { time_of_day: { before: '10:00' } }, who: 'anonymous', status: 403, reasons: ['time-of-day-unauthorized'] },
  ],
  day_of_week: [
    { rule: { day_of_week: { in: ['mon', 'tue'] } }, who: 'anonymous', status: 200, reasons: ['day-of-week-ok'] },
    { rule: { day_of_week: { in: ['sat', 'sun'] } }, who: 'anonymous', status: 403, reasons: ['day-of-week-unauthorized'] },
    { rule: { day_of_week: { in: ['tue'], timezone: 'Pacific/Kiritimati' } }, who: 'anonymous', now: '2026-11-23T12:00:00Z', status: 200, reasons: ['day-of-week-ok'] },
  ],
  date: [
    { rule: { date: { after: '2026-01-01T00:00:00Z' } }, who: 'anonymous', status: 200, reasons: ['date-ok'] },
    { rule: { date: { before: '2026-11-23T10:00:00Z' } }, who: 'anonymous', status: 403, reasons: ['date-unauthorized'] },
    { rule: { date: { after: '2026-11-23T11:00:00+02:00', before: '2026-12-01T00:00:00Z' } }, who: 'anonymous', status: 200, reasons: ['date-ok'] },
  ],
  tailnet_user: [
    { rule: { tailnet_user: 'alice@example.com' }, who: 'anonymous', tailnet: { user: 'alice@example.com', node: 'laptop.tail1.ts.net', tags: [] }, status: 200, reasons: ['tailnet-user-ok'] },
    { rule: { tailnet_user: { ends_with: '@example.com' } }, who: 'anonymous', tailnet: { node: 'ci.tail1.ts.net', tags: ['tag:ci'] }, status: 403, reasons: ['tailnet-user-unauthorized'] },
    { rule: { tailnet_user: 'alice@example.com' }, who: 'anonymous', tailnet: 'none', status: 401, reasons: ['tailnet-unauthenticated'] },
  ],
  tailnet_node: [
    { rule: { tailnet_node: { ends_with: '.tail1.ts.net' } }, who: 'anonymous', tailnet: { node: 'ci.tail1.ts.net', tags: [] }, status: 200, reasons: ['tailnet-node-ok'] },
    { rule: { tailnet_node: 'ci.tail1.ts.net' }, who: 'anonymous', tailnet: { node: 'laptop.tail1.ts.net', tags: [] }, status: 403, reasons: ['tailnet-node-unauthorized'] },
  ],
  tailnet_tags: [
    { rule: { tailnet_tags: { has: 'tag:server' } }, who: 'anonymous', tailnet: { node: 'db.tail1.ts.net', tags: ['tag:server', 'tag:prod'] }, status: 200, reasons: ['tailnet-tags-ok'] },
    { rule: { tailnet_tags: { has_all: ['tag:server', 'tag:ci'] } }, who: 'anonymous', tailnet: { node: 'db.tail1.ts.net', tags: ['tag:server'] }, status: 403, reasons: ['tailnet-tags-unauthorized'] },
    { rule: { tailnet_tags: { exclude: 'tag:untrusted' } }, who: 'anonymous', tailnet: 'none', status: 401, reasons: ['tailnet-unauthenticated'] },
  ],
  session_age: [
    { rule: { session_age: { max: '8h' } }, status: 200, reasons: ['session-age-ok'] },
    { rule: { session_age: { max: '1h' } }, status: 403, reasons: ['session-age-unauthorized'] },
    { rule: { session_age: { max: '1h' } }, who: { sub: 'x', iat: undefined }, status: 403, reasons: ['session-age-unauthorized'] },
    { rule: { session_age: { max: '8h' } }, who: 'anonymous', status: 401, reasons: ['user-unauthenticated'] },
  ],
};

describe('every criterion and matcher, with its reasons', () => {
  it('the table covers every criterion', () => {
    assert.deepEqual(Object.keys(table).sort(), CRITERIA.map((c) => c.name).sort());
  });
  for (const [name, rows] of Object.entries(table)) {
    rows.forEach((row, i) => {
      it(`${name} #${i}: ${JSON.stringify(row.rule)} → ${row.status}`, () => {
        const who = row.who === 'anonymous' ? undefined : principal(row.who ?? alice);
        const tailnet = row.tailnet === undefined || row.tailnet === 'none' ? undefined : { user: row.tailnet.user, node: row.tailnet.node, tags: row.tailnet.tags };
        const d = decide({ allow: row.rule }, facts(row.req), who, Date.parse(row.now ?? '2026-11-23T10:00:00Z'), tailnet);
        assert.equal(d.status, row.status);
        assert.equal(d.allow, row.status === 200);
        assert.deepEqual([...d.reasons].sort(), [...row.reasons].sort());
      });
    });
  }
});

describe('source addresses parsed once (a bounded memo)', () => {
  it('gives the same answer from the memo as parsed fresh, and stays right once the memo is emptied', () => {
    for (let round = 0; round < 2; round++) {
      assert.equal(parseSourceIp('::ffff:100.64.3.4')?.toString(), '100.64.3.4');
      assert.equal(parseSourceIp('not-an-address'), undefined);
      assert.equal(parseSourceIp(''), undefined);
      assert.equal(parseSourceIp('fd7a:115c:a1e0::1')?.kind(), 'ipv6');
    }
    // More distinct addresses than the memo keeps: it is emptied, never wrong.
    for (let i = 0; i < 5000; i++) assert.equal(parseSourceIp(`10.${(i >> 8) & 255}.${i & 255}.1`)?.toString(), `10.${(i >> 8) & 255}.${i & 255}.1`);
    assert.equal(parseSourceIp('not-an-address'), undefined);
    const d = decide({ allow: { source_ip: { in: ['10.0.0.0/8'] } } }, facts({ sourceIp: '10.1.2.3' }), undefined, Date.parse('2026-11-23T10:00:00Z'));
    assert.equal(d.status, 200);
  });
});
