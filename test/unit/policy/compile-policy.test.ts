import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy } from '../../../src/policy/compile-policy.js';
import { ENV } from '../../helpers/policy.js';

function problems(doc: unknown, name = 'p.json') {
  const r = compilePolicy([{ name, text: typeof doc === 'string' ? doc : JSON.stringify(doc) }], ENV);
  assert.equal(r.ok, false, 'expected the policy to be rejected');
  return (r as { problems: { file: string; pointer: string; message: string }[] }).problems.map((p) => `${p.file}:${p.pointer}: ${p.message}`);
}

const route = (extra: Record<string, unknown>) => ({ version: 1, routes: [{ id: 'r', ...extra }] });

describe('invalid policies are refused with file:pointer: message', () => {
  const cases: [string, unknown, RegExp][] = [
    ['broken JSON', '{"version": 1,', /^p\.json:: not valid JSON/],
    ['wrong version', { version: 2, routes: [] }, /^p\.json:\/version: must be 1$/],
    ['unknown top-level key', { version: 1, routes: [], extra: 1 }, /^p\.json:\/extra: unknown key "extra" \(allowed here: version, routes\)$/],
    ['bad route id', { version: 1, routes: [{ id: 'Bad Id' }] }, /^p\.json:\/routes\/0\/id: "Bad Id" is not a route id: use lower-case letters, digits/],
    ['unknown criterion', route({ allow: { grups: { has: 'x' } } }), /^p\.json:\/routes\/0\/allow\/grups: unknown key "grups"; did you mean "groups"\? \(allowed here: and, or, not, accept, .*, groups, .*\)$/],
    ['two keys in a rule', route({ allow: { accept: true, reject: true } }), /^p\.json:\/routes\/0\/allow: .*exactly one key/],
    ['wrong matcher', route({ allow: { email: { iss: 'x' } } }), /^p\.json:\/routes\/0\/allow\/email\/iss: unknown key "iss"; did you mean "is"\? \(allowed here: is, in, not_in, starts_with, ends_with, contains, matches\)$/],
    ['two matchers', route({ allow: { email: { is: 'a', in: ['b'] } } }), /^p\.json:\/routes\/0\/allow\/email: .*exactly one key/],
    ['empty and', route({ allow: { and: [] } }), /^p\.json:\/routes\/0\/allow\/and: must NOT have fewer than 1 items$/],
    ['list matcher typo', route({ allow: { groups: { contains: 'x' } } }), /^p\.json:\/routes\/0\/allow\/groups\/contains: unknown key "contains" \(allowed here: has, has_any, has_all, exclude\)$/],
    ['header without name', route({ allow: { header: { is: 'x' } } }), /^p\.json:\/routes\/0\/allow\/header: missing required key "name"$/],
    ['bad CIDR', route({ allow: { source_ip: { in: ['10.0.0.0/33'] } } }), /^p\.json:\/routes\/0\/allow\/source_ip\/in\/0: not an IP address or CIDR/],
    ['bad time', route({ allow: { time_of_day: { after: '25:00' } } }), /^p\.json:\/routes\/0\/allow\/time_of_day\/after: expected HH:MM/],
    ['bad time zone', route({ allow: { time_of_day: { after: '08:00', timezone: 'Mars/Olympus' } } }), /^p\.json:\/routes\/0\/allow\/time_of_day\/timezone: unknown time zone/],
    ['bad date', route({ allow: { date: { after: '2026-01-01' } } }), /^p\.json:\/routes\/0\/allow\/date\/after: expected an RFC 3339/],
    ['bad duration', route({ allow: { session_age: { max: '8 hours' } } }), /^p\.json:\/routes\/0\/allow\/session_age\/max: "8 hours" is not a duration; write <number><unit> parts with units ms, s, m, h, d/],
    ['bad day', route({ allow: { day_of_week: { in: ['monday'] } } }), /^p\.json:\/routes\/0\/allow\/day_of_week\/in\/0: must be one of/],
    ['invalid regex', route({ allow: { http_path: { matches: '(' } } }), /^p\.json:\/routes\/0\/allow\/http_path\/matches: unsupported regular expression \(RE2 syntax; no backreferences or lookaround\): missing closing \)/],
    ['backreference', route({ allow: { http_path: { matches: '(a)\\1' } } }), /^p\.json:\/routes\/0\/allow\/http_path\/matches: unsupported regular expression .*invalid escape sequence: `\\1`/],
    ['lookahead', route({ deny: { header: { name: 'x', matches: '(?=a)a' } } }), /^p\.json:\/routes\/0\/deny\/header\/matches: unsupported regular expression .*`\(\?=`/],
    ['lookbehind path_regex', route({ match: { path_regex: '/(?<!x)y' } }), /^p\.json:\/routes\/0\/match\/path_regex: unsupported regular expression/],
    ['repeat over 1000', route({ allow: { user: { matches: 'a{1001}' } } }), /^p\.json:\/routes\/0\/allow\/user\/matches: unsupported regular expression .*invalid repeat count/],
    ['program too large', route({ allow: { user: { matches: '[a-z]{1000}[0-9]{1000}x' } } }), /^p\.json:\/routes\/0\/allow\/user\/matches: regular expression too large \(\d+ RE2 instructions, at most 2000\)/],
    ['two path matchers', route({ match: { path: '/a', path_prefix: '/' } }), /^p\.json:\/routes\/0\/match: use only one of path_prefix, path, path_regex/],
    ['path without slash', route({ match: { path_prefix: 'api' } }), /^p\.json:\/routes\/0\/match\/path_prefix: "api" must start with "\/"$/],
    // What a new user writes first: each error says what to write instead.
    ['host with a port', route({ match: { hosts: ['app.example.com:8443'] } }), /^p\.json:\/routes\/0\/match\/hosts\/0: "app\.example\.com:8443" is not a host name: leave out the port \("app\.example\.com"\): the request's port is removed before hosts are compared$/],
    ['host with a scheme', route({ match: { hosts: ['https://app.example.com/'] } }), /^p\.json:\/routes\/0\/match\/hosts\/0: "https:\/\/app\.example\.com\/" is not a host name: leave out the scheme \("app\.example\.com"\)$/],
    ['wildcard without a dot', route({ match: { hosts: ['*example.com'] } }), /^p\.json:\/routes\/0\/match\/hosts\/0: "\*example\.com" is not a host name: a wildcard is "\*\." and a domain at the start/],
    ['misspelt route key', route({ alow: { accept: true } }), /^p\.json:\/routes\/0\/alow: unknown key "alow"; did you mean "allow"\? \(allowed here: id, description, match, to, /],
    ['a bare string for a list matcher', route({ allow: { groups: 'sre' } }), /^p\.json:\/routes\/0\/allow\/groups: must be an object with one of the keys has, has_any, has_all, exclude \(found a string\)$/],
    ['a list of rules', route({ allow: [{ accept: true }] }), /^p\.json:\/routes\/0\/allow: must be an object with one of the keys and, or, not, accept, .* \(found an array\)$/],
    ['two criteria side by side', route({ allow: { groups: { has: 'a' }, email: { is: 'b' } } }), /^p\.json:\/routes\/0\/allow: .*a rule takes exactly one key; found groups, email: combine several with \{"and": \[\.\.\.\]\} or \{"or": \[\.\.\.\]\}\)$/],
    ['an empty matcher', route({ allow: { groups: {} } }), /^p\.json:\/routes\/0\/allow\/groups: .*a matcher takes exactly one key; add one of has, has_any, has_all, exclude\)$/],
    ['accept false', route({ allow: { accept: false } }), /^p\.json:\/routes\/0\/allow\/accept: must be true$/],
  ];
  for (const [name, doc, want] of cases) {
    it(name, () => {
      const list = problems(doc);
      assert.equal(list.length, 1, list.join('\n'));
      assert.match(list[0]!, want);
    });
  }

  it('route ids are unique across files, and one bad file rejects the whole set', () => {
    const a = JSON.stringify(route({ allow: { accept: true } }));
    const r = compilePolicy([{ name: 'a.json', text: a }, { name: 'b.json', text: a }], ENV);
    assert.equal(r.ok, false);
    assert.match(`${(r as { problems: { file: string; pointer: string; message: string }[] }).problems[0]!.file}:${(r as { problems: { pointer: string }[] }).problems[0]!.pointer}`, /^b\.json:\/routes\/0\/id$/);
  });

  it('accepts the documented example and hashes the set', () => {
    const doc = {
      version: 1,
      routes: [
        {
          id: 'grafana',
          description: 'Dashboards for the SRE team',
          match: { hosts: ['grafana.example.com'], path_prefix: '/' },
          to: 'http://100.101.102.103:3000',
          allow: { or: [{ groups: { has: 'sre' } }, { email: { is: 'boss@example.com' } }] },
          deny: { http_method: { in: ['DELETE'] } },
        },
      ],
    };
    const r1 = compilePolicy([{ name: 'x.json', text: JSON.stringify(doc) }], ENV);
    const r2 = compilePolicy([{ name: 'x.json', text: JSON.stringify(doc, null, 1) }], ENV);
    assert.ok(r1.ok && r2.ok);
    assert.match(r1.policy.hash, /^[0-9a-f]{64}$/);
    assert.notEqual(r1.policy.hash, r2.policy.hash, 'the hash covers the file contents');
    assert.ok(Object.isFrozen(r1.policy) && Object.isFrozen(r1.policy.routes));
  });
});

describe('identical rules share one compiled form', () => {
  it('compiles a rule repeated across routes once, and decides each route as before', () => {
    const deny = { and: [{ http_method: { in: ['DELETE'] } }, { not: { groups: { has: 'admins' } } }] };
    const r = compilePolicy([{ name: 'p.json', text: JSON.stringify({ version: 1, routes: [
      { id: 'a', match: { hosts: ['a.example.com'] }, allow: { groups: { has: 'a' } }, deny },
      { id: 'b', match: { hosts: ['b.example.com'] }, allow: { groups: { has: 'b' } }, deny },
    ] }) }], ENV);
    assert.ok(r.ok);
    const [a, b] = r.policy.routes;
    assert.equal(a!.deny, b!.deny, 'the same deny is one compiled rule');
    assert.notEqual(a!.allow, b!.allow, 'different allows stay apart');
  });

  it('reports a bad rule at every place it appears', () => {
    const bad = { http_method: 'delete' };
    const found = problems({ version: 1, routes: [{ id: 'a', deny: bad }, { id: 'b', deny: bad }] });
    assert.equal(found.length, 2, found.join('\n'));
    assert.match(found[0]!, /\/routes\/0\/deny\/http_method: "delete" never matches/);
    assert.match(found[1]!, /\/routes\/1\/deny\/http_method: "delete" never matches/);
  });
});
