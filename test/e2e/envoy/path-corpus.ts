// The hostile request targets of the path agreement test (envoy-api.test.ts), and how a
// lenient app could read a path: what the app must never be able to read as a protected path.
export const HOST = 'paths.localhost';
export const OTHER = 'other.localhost';

/** Request targets (and a few whole request heads) an attacker would try. */
export const TARGETS: string[] = [
  // encoded dots and slashes
  '/public/../admin/x', '/public/%2e%2e/admin/x', '/public/%2E%2E/admin/x', '/public/.%2e/admin/x', '/public/%2e./admin/x',
  '/public/%2fadmin/x', '/public/..%2fadmin/x', '/public%2F..%2Fadmin/x', '/public/%2F%2E%2E%2Fadmin', '/%2e%2e/admin',
  '/public/%252e%252e/admin/x', '/public/%2561dmin/x', '/%61dmin/x', '/%41dmin/x', '/public/%7Euser',
  // double slashes and dot segments
  '//admin/x', '///admin/x', '/public//../admin/x', '/./admin/x', '/public/./../admin', '/public/x/..', '/public/.../admin',
  // backslashes
  '/public/..\\admin/x', '/public/%5c..%5cadmin/x', '/public\\..\\admin', '/\\admin/x',
  // dot segments with path parameters, and parameters on the protected route
  '/public/..;/admin/x', '/public/.;/admin/x', '/public/.;x/../admin/x', '/public/%2e%2e;/admin/x', '/public/..;jsessionid=1/admin/x',
  '/public/..%3b/admin/x', '/admin;x=1', '/admin;', '/admin;/secret', '/api/v1;x=1', '/api/v1;', '/api;x/v1', '/shop;jsessionid=AB/cart',
  '/public/a;b=1/c', '/legacy/login;jsessionid=AB', '/legacy;x/login', '/legacy/login;', '/legacy/login/x;y', '/legacy/login/..;/x',
  '/shop;x/cart', '/shop/cart;jsessionid=1', '/shop/..;/admin', '/shop;x/../admin/x',
  // overlong and invalid UTF-8
  '/public/%c0%ae%c0%ae/admin/x', '/public/%c0%af..%c0%afadmin', '/public/%e0%80%ae%e0%80%ae/admin', '/public/%ff/x', '/public/caf%c3%a9',
  // fragments and %23
  '/public/%23/../admin/x', '/admin%23/x', '/public/x%23/../../admin', '/public/x#/../../admin/x', '/public/x#frag',
  // query tricks
  '/public/x?/../../admin/x', '/public/x?%2F..%2F..%2Fadmin', '/public/x%3F/../../admin/x', '/admin?/public/', '/public/x?a=1#/../admin',
  '/public/x??/../admin', '/api/v1?x=;/admin',
  // exact route and case
  '/api/v1', '/api/v1/', '/API/v1', '/Admin/x', '/api/v1/../v1',
  // control characters, NUL, spaces (encoded and raw)
  '/public/%00/../admin', '/public/x%0d%0aX-Injected:%201', '/public/x%20y', '/public/x%09',
  // not origin-form
  '*', 'admin/x', '',
];

/** Whole request heads: absolute-form targets and Host/authority disagreements. */
export const HEADS: [string, string][] = [
  [`GET https://${HOST}/public/x HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET https://${HOST}/admin/x HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET https://${OTHER}/admin/x HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET https://${HOST}/admin/x HTTP/1.1\r\nHost: ${OTHER}`, HOST],
  [`GET http://${HOST}/../admin/x HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET https://${HOST}@${OTHER}/admin HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET //${OTHER}/admin HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: ${OTHER}`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: ${HOST}`, OTHER],
  [`GET /admin/x HTTP/1.1\r\nHost: ${HOST}\r\nHost: ${OTHER}`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: ${OTHER}\r\nHost: ${HOST}`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: PATHS.LOCALHOST.`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: ${HOST}:1`, HOST],
  [`GET /admin/x HTTP/1.1\r\nHost: ${HOST}\r\nX-Forwarded-Host: ${OTHER}\r\nX-Original-URL: /public/x\r\nX-Rewrite-URL: /public/x`, HOST],
  [`GET /public/x HTTP/1.1\r\nHost: ${HOST}\r\nX-Original-URL: /admin/x\r\nX-Envoy-Original-Path: /admin/x`, HOST],
  [`GET /admin/x HTTP/1.0`, HOST],
  [`GET /public/x HTTP/1.1\r\nHost: ${OTHER}/admin`, HOST],
  [`GET /public/x HTTP/1.1\r\nHost: evil.example@${HOST}`, HOST],
  [`get /admin/x HTTP/1.1\r\nHost: ${HOST}`, HOST],
  [`OPTIONS * HTTP/1.1\r\nHost: ${HOST}`, HOST],
];

/**
 * How a lenient app could read a path it was given: every escape decoded (once), `\` as `/`,
 * `;` parameters cut off, dot segments resolved, slashes merged, case folded.
 */
export function lenientRead(path: string, foldCase = true): string {
  let p = path.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  p = p.replace(/\\/g, '/').replace(/\u00c0\u00ae|\u00e0\u0080\u00ae/g, '.').replace(/\u00c0\u00af/g, '/');
  const out: string[] = [];
  for (const raw of p.split('/')) {
    const seg = raw.split(';')[0]!;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const last = p.split('/').at(-1)!.split(';')[0];
  const p2 = `/${out.join('/')}${out.length > 0 && (last === '' || last === '.' || last === '..') ? '/' : ''}`;
  return foldCase ? p2.toLowerCase() : p2;
}

/** The route of the test policy that a lenient app's reading of the path belongs to. */
export function routeOfLenient(host: string, path: string): string {
  if (host === OTHER) return 'other-host';
  const p = lenientRead(path, false);
  if (p.startsWith('/admin')) return 'admin';
  if (p === '/api/v1') return 'api';
  if (p.startsWith('/public/')) return 'paths-public';
  if (p === '/legacy/login') return 'legacy';
  if (p.startsWith('/shop/')) return 'shop';
  return 'catchall';
}

/** RFC 3986 §6.2.2.1: hex digits in escapes compare case-insensitively (Verdict writes them upper case). */
export const upperEscapes = (p: string) => p.replace(/%[0-9a-fA-F]{2}/g, (e) => e.toUpperCase());
