import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verdict } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const POLICY = {
  version: 1,
  routes: [
    { id: 'app', match: { hosts: ['app.example.com'] }, allow: { or: [{ groups: { has: 'sre' } }, { email: { ends_with: '@boss.example.com' } }] }, deny: { http_method: { in: ['DELETE'] } } },
    { id: 'docs', match: { hosts: ['docs.example.com'] }, allow: { accept: true } },
  ],
};
const req = (method: string) => ({ method, host: 'app.example.com', path: '/' });

function project(cases: unknown[]): string {
  const t = tempDir();
  t.write('policies/p.json', POLICY);
  t.write('policies/tests/t.json', { cases });
  return t.write('verdict.json', { policies: { dir: 'policies' } });
}

describe('verdict test --coverage', () => {
  it('names each rule outcome no passing case produced, and the routes no case reaches', () => {
    const config = project([
      { name: 'sre may read', request: req('GET'), identity: { sub: 'a', groups: ['sre'] }, expect: { decision: 'allow' } },
      // A true deny leaves allow unevaluated: this case covers deny=true only.
      { name: 'nobody deletes', request: req('DELETE'), identity: { sub: 'a', groups: ['sre'] }, expect: { decision: 'deny', status: 403 } },
      // A failing case covers nothing.
      { name: 'wrong on purpose', request: req('GET'), identity: { sub: 'b', groups: ['dev'] }, expect: { decision: 'allow' } },
    ]);
    const r = verdict(['test', '--config', config, '--coverage']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /^2 passed, 1 failed$/m);
    assert.match(r.stdout, /^ {2}app \([^)]*p\.json\): 6\/9 67%, 2 cases$/m);
    const missing = r.stdout.split('\n').filter((l) => l.startsWith('    ')).map((l) => l.trim());
    assert.deepEqual(missing, ['/routes/0/allow/or: never false', '/routes/0/allow/or/0/groups: never false', '/routes/0/allow/or/1/email: never true']);
    assert.match(r.stdout, /^ {2}docs \([^)]*p\.json\): 0\/2 0%, 0 cases — no case reaches this route$/m);
    assert.match(r.stdout, /^coverage: 6\/11 54\.5%$/m);
  });

  it('--min-coverage fails below the bar and passes at it', () => {
    const all = project([
      { name: 'sre', request: req('GET'), identity: { sub: 'a', groups: ['sre'] }, expect: { decision: 'allow' } },
      { name: 'boss', request: req('GET'), identity: { sub: 'b', email: 'x@boss.example.com', email_verified: true }, expect: { decision: 'allow' } },
      { name: 'dev', request: req('GET'), identity: { sub: 'c', groups: ['dev'] }, expect: { decision: 'deny', status: 403 } },
      { name: 'delete', request: req('DELETE'), identity: { sub: 'a', groups: ['sre'] }, expect: { decision: 'deny', status: 403 } },
      { name: 'docs', request: { method: 'GET', host: 'docs.example.com', path: '/' }, expect: { decision: 'allow' } },
    ]);
    const full = verdict(['test', '--config', all, '--min-coverage', '100']);
    assert.equal(full.code, 0, full.stdout);
    assert.match(full.stdout, /^coverage: 11\/11 100\.0%$/m);
    const partial = project([{ name: 'sre', request: req('GET'), identity: { sub: 'a', groups: ['sre'] }, expect: { decision: 'allow' } }]);
    const low = verdict(['test', '--config', partial, '--min-coverage', '50']);
    assert.equal(low.code, 1, low.stdout);
    assert.match(low.stdout, /^1 passed, 0 failed$/m);
    assert.match(low.stdout, /below --min-coverage 50%/);
    assert.equal(verdict(['test', '--config', partial, '--min-coverage', 'lots']).code, 2);
    assert.equal(verdict(['test', '--config', partial, '--min-coverage', '101']).code, 2);
  });

  it('the example policies are covered completely', () => {
    const r = verdict(['test', '--min-coverage', '100']);
    assert.equal(r.code, 0, r.stdout);
  });
});
