import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy } from '../../../src/policy/compile-policy.js';
import { ENV } from '../../helpers/policy.js';

const route = (rule: Record<string, unknown>) => JSON.stringify({ version: 1, routes: [{ id: 'r', deny: rule, allow: { accept: true } }] });

function problems(text: string): string[] {
  const r = compilePolicy([{ name: 'p.json', text }], ENV);
  return r.ok ? [] : r.problems.map((p) => `${p.file}:${p.pointer}: ${p.message}`);
}

describe('http_method literals must be upper-case (a lower-case one would never match: a deny that allows)', () => {
  it('refuses a lower-case literal in every matcher form, naming the pointer and the fix', () => {
    assert.deepEqual(problems(route({ http_method: { is: 'delete' } })), ['p.json:/routes/0/deny/http_method/is: "delete" never matches: request methods are upper-case; write "DELETE"']);
    assert.deepEqual(problems(route({ http_method: 'Delete' })), ['p.json:/routes/0/deny/http_method: "Delete" never matches: request methods are upper-case; write "DELETE"']);
    assert.deepEqual(problems(route({ http_method: { in: ['PUT', 'patch'] } })), ['p.json:/routes/0/deny/http_method/in/1: "patch" never matches: request methods are upper-case; write "PATCH"']);
    assert.deepEqual(problems(route({ not: { http_method: { not_in: ['get'] } } })), ['p.json:/routes/0/deny/not/http_method/not_in/0: "get" never matches: request methods are upper-case; write "GET"']);
  });

  it('match.methods follows the same rule (refused by the schema)', () => {
    const text = JSON.stringify({ version: 1, routes: [{ id: 'r', match: { methods: ['get'] }, allow: { accept: true } }] });
    assert.match(problems(text)[0]!, /^p\.json:\/routes\/0\/match\/methods\/0: "get" never matches: request methods are upper-case; write "GET"$/);
  });

  it('upper-case literals and regexes compile', () => {
    assert.deepEqual(problems(route({ http_method: { in: ['DELETE', 'PATCH'] } })), []);
    assert.deepEqual(problems(route({ http_method: { matches: 'P(UT|OST)' } })), []);
  });
});
