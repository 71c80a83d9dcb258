import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizePath } from '../../../src/request/normalize-path.js';

describe('normalizePath', () => {
  const ok: [string, string, string][] = [
    ['/', '/', ''],
    ['/a/b', '/a/b', ''],
    ['/a/b/', '/a/b/', ''],
    ['/a/b?x=1&y=%2F', '/a/b', 'x=1&y=%2F'],
    ['//admin', '/admin', ''],
    ['/a//b///c', '/a/b/c', ''],
    ['/a/./b', '/a/b', ''],
    ['/a/b/.', '/a/b/', ''],
    ['/a/b/..', '/a/', ''],
    ['/a/../b', '/b', ''],
    ['/a/%2e%2e/b', '/b', ''],
    ['/a/%2E./b', '/b', ''],
    ['/a/.%2e/b', '/b', ''],
    ['/%61dmin', '/admin', ''],
    ['/%7euser', '/~user', ''],
    ['/a%20b', '/a%20b', ''],
    ['/a%3cb', '/a%3Cb', ''],
    ['/caf%C3%A9', '/caf%C3%A9', ''],
    ['/caf%c3%a9/%F0%9F%98%80', '/caf%C3%A9/%F0%9F%98%80', ''],
    ['/%41%c3%a9', '/A%C3%A9', ''],
    ['/a/..', '/', ''],
    ['/api/v1/../../admin', '/admin', ''],
    // Path parameters stay in the path (routes decide about them, see path-parameters.ts).
    ['/admin;x=1', '/admin;x=1', ''],
    ['/admin;', '/admin;', ''],
    ['/a/b%3bc', '/a/b%3Bc', ''],
    ['/a/..x;y/b', '/a/..x;y/b', ''],
  ];
  for (const [raw, path, query] of ok) {
    it(`normalizes ${JSON.stringify(raw)} to ${JSON.stringify(path)}`, () => {
      assert.deepEqual(normalizePath(raw), { ok: true, path, query });
    });
  }

  const bad: [string, RegExp][] = [
    ['/..', /climbs/],
    ['/../etc/passwd', /climbs/],
    ['/a/../../b', /climbs/],
    ['/%2e%2e/x', /climbs/],
    ['/a%2Fb', /encoded slash/],
    ['/a%2fb', /encoded slash/],
    ['/a%5Cb', /encoded slash or backslash/],
    ['/a%5cb', /encoded slash or backslash/],
    ['/a\\b', /backslash/],
    ['/a%00b', /NUL/],
    ['/a\u0000b', /NUL/],
    ['/a%zz', /percent-encoding/],
    ['/a%2', /percent-encoding/],
    ['/a%', /percent-encoding/],
    ['/a b', /space/],
    ['/a\tb', /control/],
    ['/a\nb', /control/],
    ['/a#frag', /fragment/],
    ['admin', /start with/],
    ['', /start with/],
    ['*', /start with/],
    ['http://evil/x', /start with/],
    // Tomcat, Jetty and Spring strip the parameter and then resolve the dot segment.
    ['/public/..;/admin', /dot segment with path parameters/],
    ['/public/.;x/admin', /dot segment with path parameters/],
    ['/public/%2e%2e;/admin', /dot segment with path parameters/],
    ['/public/%2E%2E;jsessionid=1/admin', /dot segment with path parameters/],
    ['/public/..;jsessionid=1/admin', /dot segment with path parameters/],
    ['/public/..%3b/admin', /dot segment with path parameters/],
    ['/public/.%2e;/admin', /dot segment with path parameters/],
    ['/..;', /dot segment with path parameters/],
    // Overlong and invalid UTF-8: `%C0%AE` is `.` to a lenient decoder.
    ['/public/%c0%ae%c0%ae/admin', /not valid UTF-8/],
    ['/public/%C0%AF', /not valid UTF-8/],
    ['/public/%e0%80%ae%e0%80%ae/admin', /not valid UTF-8/],
    ['/%f0%80%80%af', /not valid UTF-8/],
    ['/%ed%a0%80', /not valid UTF-8/],
    ['/%ff', /not valid UTF-8/],
    ['/caf%c3', /not valid UTF-8/],
    ['/caf%c3x%a9', /not valid UTF-8/],
  ];
  for (const [raw, why] of bad) {
    it(`refuses ${JSON.stringify(raw)}`, () => {
      const r = normalizePath(raw);
      assert.equal(r.ok, false);
      assert.match((r as { detail: string }).detail, why);
    });
  }
});
