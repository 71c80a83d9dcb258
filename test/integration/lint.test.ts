import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LINT_CODES } from '../../src/lint/finding.js';
import { verdict } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const sre = { groups: { has: 'sre' } };

function project(routes: unknown[], cases?: unknown[], config: Record<string, unknown> = {}): string {
  const t = tempDir();
  t.write('policies/p.json', { version: 1, routes });
  if (cases) t.write('policies/tests/t.json', { cases });
  return t.write('verdict.json', { ...config, policies: { dir: 'policies', ...(config.policies as object | undefined) } });
}

/** Findings as `pointer code`, and the exit code. */
function lint(config: string): { code: number; findings: string[]; stdout: string } {
  const r = verdict(['lint', '--config', config]);
  const findings = r.stdout.split('\n').filter((l) => /: (error|warning) /.test(l)).map((l) => {
    const m = /^[^:]+:(\S*): (error|warning) ([a-z-]+):/.exec(l)!;
    return `${m[1]} ${m[2]} ${m[3]}`;
  });
  return { code: r.code, findings, stdout: r.stdout + r.stderr };
}

const get = (host: string, path = '/') => ({ name: `${host}${path}`, request: { method: 'GET', host, path }, expect: { decision: 'deny' } });

describe('verdict lint', () => {
  it('finds shadowed routes (error) and partial overlaps (warning), but not exceptions written before the general route', () => {
    const config = project(
      [
        { id: 'admin', match: { hosts: ['app.example.com'], path_prefix: '/admin/' }, allow: { groups: { has: 'admins' } } },
        { id: 'app', match: { hosts: ['app.example.com'], path_prefix: '/' }, allow: sre },
        { id: 'dead', match: { hosts: ['app.example.com'], path: '/reports' }, allow: { groups: { has: 'finance' } } },
        { id: 'wild', match: { hosts: ['*.example.com'], path_prefix: '/api/' }, allow: { groups: { has: 'dev' } } },
        { id: 'api', match: { hosts: ['api.example.com', 'other.example.org'] }, allow: { groups: { has: 'api' } } },
        { id: 'byid', allow: sre },
      ],
      [get('app.example.com'), get('api.example.com'), get('other.example.org'), get('x.example.com')],
    );
    const r = lint(config);
    assert.equal(r.code, 1, r.stdout);
    // app takes app.example.com/api/ before wild can: an overlap too.
    assert.deepEqual(r.findings, ['/routes/2/match error shadowed-route', '/routes/3/match warning overlapping-routes', '/routes/4/match warning overlapping-routes'], r.stdout);
    assert.match(r.stdout, /routes app and wild both match requests such as GET app\.example\.com\/api\/, with different rules; app comes first/);
    assert.match(r.stdout, /route dead never matches: route app .* comes first/);
    assert.match(r.stdout, /routes wild and api both match requests such as GET api\.example\.com\/api\/, with different rules; wild comes first/);
    assert.match(r.stdout, /^1 error, 2 warnings in 6 routes$/m);
  });

  it('with policies.require_route_id a shadowed route is only a warning (Envoy binds routes by id)', () => {
    const config = project(
      [
        { id: 'all', match: { hosts: ['a.example.com'] }, allow: sre },
        { id: 'dead', match: { hosts: ['a.example.com'], path_prefix: '/x' }, allow: sre },
      ],
      [get('a.example.com')],
      { policies: { require_route_id: true } },
    );
    const r = lint(config);
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(r.findings, ['/routes/1/match warning shadowed-route']);
  });

  it('finds constant rules, anonymous allows on identity routes and regex extremes', () => {
    const config = project(
      [
        { id: 'c1', match: { hosts: ['c.example.com'], path: '/1' }, allow: { or: [sre, { and: [{ accept: true }, { reject: true }] }] } },
        { id: 'c2', match: { hosts: ['c.example.com'], path: '/2' }, allow: { and: [sre, { time_of_day: { after: '09:00', before: '09:00' } }] } },
        { id: 'c3', match: { hosts: ['c.example.com'], path: '/3' }, allow: { not: { accept: true } } },
        { id: 'anon', match: { hosts: ['c.example.com'], path: '/4' }, allow: { or: [sre, { http_method: { in: ['GET'] } }] } },
        { id: 'public', match: { hosts: ['c.example.com'], path: '/5' }, allow: { accept: true } },
        { id: 'guarded', match: { hosts: ['c.example.com'], path: '/6' }, allow: { or: [sre, { http_method: { in: ['GET'] } }] }, deny: { not: { authenticated_user: true } } },
        { id: 're', match: { hosts: ['c.example.com'], path_regex: '/7.*' }, allow: { and: [sre, { header: { name: 'x-a', matches: '.*' } }, { user: { matches: 'a$b' } }] } },
      ],
      [get('c.example.com')],
    );
    const r = lint(config);
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(r.findings, [
      '/routes/0/allow/or/1/and warning constant-rule',
      '/routes/1/allow/and warning constant-rule',
      '/routes/2/allow/not warning constant-rule',
      '/routes/3/allow warning anonymous-allow',
      '/routes/6/allow/and/1/header/matches warning regex-matches-everything',
      '/routes/6/allow/and/2/user/matches warning regex-matches-nothing',
    ], r.stdout);
    assert.match(r.stdout, /\/routes\/1\/allow\/and: warning constant-rule: always false: .*time window is empty/);
  });

  it('names route hosts no test case reaches; says so when there are no test files', () => {
    const routes = [
      { id: 'a', match: { hosts: ['a.example.com', '*.b.example.com'] }, allow: sre },
      { id: 'c', match: { hosts: ['c.example.com'] }, allow: sre },
    ];
    const r = lint(project(routes, [get('a.example.com'), get('x.b.example.com')]));
    assert.deepEqual(r.findings, ['/routes/1/match/hosts/0 warning host-without-test']);
    const none = lint(project(routes));
    assert.deepEqual(none.findings, []);
    assert.match(none.stdout, /no test files/);
  });

  it('the example policies lint clean; an invalid policy is exit 2', () => {
    const ok = verdict(['lint']);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /^0 errors, 0 warnings in \d+ routes$/m);
    const t = tempDir();
    t.write('policies/p.json', { version: 1, routes: [{ id: 'x', allow: { nope: true } }] });
    const bad = verdict(['lint', '--policies', `${t.dir}/policies`]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /p\.json:\/routes\/0\/allow\/nope: unknown key/);
  });

  it('every code is documented in the README', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync('README.md', 'utf8');
    for (const code of Object.keys(LINT_CODES)) assert.ok(readme.includes(`| \`${code}\` |`), code);
  });
});
