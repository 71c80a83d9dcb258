import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy } from '../../../src/policy/compile-policy.js';
import { reportText } from '../../../src/replay/format-report.js';
import { Replayer } from '../../../src/replay/replay.js';

describe('replay text report', () => {
  it('renders recorded values inertly: no Markdown, HTML or fence escape from a path, host or user', () => {
    const compiled = compilePolicy([{ name: 'p.json', text: JSON.stringify({ version: 1, routes: [{ id: 'app', match: { hosts: ['app.example.com'] }, allow: { reject: true } }] }) }], {});
    assert.ok(compiled.ok);
    const replayer = new Replayer(compiled.policy, { requireRouteId: false, examples: 5 });
    replayer.add({
      time: '2026-12-01T00:00:00.000Z',
      'event.action': 'authorize',
      'verdict.decision_id': '```\n<img src=x onerror=alert(1)>',
      'verdict.decision': 'allow',
      'http.response.status_code': 200,
      'verdict.reasons': ['accept'],
      'verdict.route': 'app',
      'verdict.auth_method': 'none',
      'http.request.method': 'GET',
      'server.address': 'app.example.com',
      'url.path': '/x/[click](https://evil.example)|<b>\u2028',
    });
    const text = reportText(replayer.report, '0'.repeat(64)).join('\n');
    const fence = text.indexOf('```text');
    assert.ok(fence > 0);
    const body = text.slice(fence + 8, text.lastIndexOf('```'));
    // Inside the fence every example line is indented four spaces and has no line break of its own.
    for (const line of body.split('\n').filter((l) => l.startsWith(' '))) assert.match(line, /^ {4}\S/);
    assert.ok(!body.includes('\u2028') && !/\n[^ \n]*```/.test(body.slice(1)), body);
    // CommonMark closes a fence only with a line of ``` indented at most three spaces.
    assert.deepEqual(text.split('\n').filter((l) => /^ {0,3}```/.test(l)), ['```text', '```'], 'exactly one fence opened and closed');
  });
});
