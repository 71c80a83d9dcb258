import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { safeReturnUrl } from '../../../src/session/return-url.js';

const allowed = ['example.com', 'apps.internal'];

describe('return URLs after login and logout', () => {
  const good: [string, string][] = [
    ['/d/abc?x=1', '/d/abc?x=1'],
    ['%2Fd%2Fabc', '/d/abc'],
    ['https://example.com/x', 'https://example.com/x'],
    ['https://grafana.example.com/d', 'https://grafana.example.com/d'],
    ['http://APPS.internal:8080/', 'http://APPS.internal:8080/'],
    // Non-ASCII goes out percent-encoded (a valid Location value).
    ['/caf\u00e9', '/caf%C3%A9'],
    [encodeURIComponent('https://example.com/\u20ac'), 'https://example.com/%E2%82%AC'],
  ];
  for (const [raw, want] of good) it(`keeps ${raw}`, () => assert.equal(safeReturnUrl(raw, allowed), want));

  const open = [
    // The browser decodes a `%` in the host after this check: evil.com/.example.com.
    'https://evil.com%252F.example.com/',
    'https://evil.com%2540.example.com/',
    encodeURIComponent('https://b\u00fccher.example.com/'),
    '//evil.com/x',
    '/%2Fevil.com',
    '%2F%2Fevil.com',
    '/\\evil.com',
    '\\\\evil.com',
    '/%5Cevil.com',
    'https://evil.com/',
    'https://example.com.evil.com/',
    'https://badexample.com/',
    'https://example.com@evil.com/',
    'https://evil.com#@example.com',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'ftp://example.com/',
    ' /x',
    '/x\ny',
    '/x%0d%0aSet-Cookie:a=b',
    '/x\t',
    '%E0%A4%A',
    'https:/evil.com',
    'https:evil.com',
    '///evil.com',
    '/\u2028x',
  ];
  for (const raw of open) it(`sends ${JSON.stringify(raw)} to /`, () => assert.equal(safeReturnUrl(raw, allowed), '/'));

  it('treats missing and empty as /', () => {
    assert.equal(safeReturnUrl(undefined, allowed), '/');
    assert.equal(safeReturnUrl('', allowed), '/');
  });
});
