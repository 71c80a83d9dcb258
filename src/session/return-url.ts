import { normalizeHost } from '../policy/host-pattern.js';

/**
 * Where a login or logout may send the browser afterwards: a path on the same host, or
 * an absolute http(s) URL on an allowlisted host (whole labels: `example.com` allows
 * `example.com` and `a.example.com`, never `badexample.com`). Decoded once; anything
 * with control characters, whitespace, backslashes, user info, another scheme or a
 * protocol-relative `//` becomes `/`.
 */
export function safeReturnUrl(raw: string | undefined, allowedHosts: readonly string[]): string {
  if (raw === undefined || raw === '') return '/';
  let v: string;
  try {
    v = decodeURIComponent(raw);
  } catch {
    return '/';
  }
  if (/[\u0000-\u0020\u007f-\u009f\\\u2028\u2029]/.test(v)) return '/';
  if (v.startsWith('/')) return v.startsWith('//') ? '/' : asciiOnly(v);
  const m = /^https?:\/\/([^/?#@]+)([/?#].*)?$/i.exec(v);
  // The host as browsers read it: ASCII name, port, IPv6 literal. A `%` there is decoded by the
  // browser after this check (`evil.com%2F.example.com`), non-ASCII is IDNA-mapped.
  if (!m || !/^[A-Za-z0-9._~:[\]-]+$/.test(m[1]!)) return '/';
  const host = normalizeHost(m[1]!);
  const ok = allowedHosts.some((a) => {
    const h = normalizeHost(a);
    return host === h || host.endsWith(`.${h}`);
  });
  return ok ? asciiOnly(v) : '/';
}

/**
 * Non-ASCII characters percent-encoded (UTF-8), so the URL is a valid `Location` value: Node
 * refuses a header with `€` (the answer became a 503 after the logout or login had taken
 * effect), and proxies differ on raw UTF-8 in headers. A lone surrogate cannot be encoded: `/`.
 */
function asciiOnly(v: string): string {
  if (/^[\x21-\x7e]*$/.test(v)) return v;
  try {
    return v.replace(/[^\x21-\x7e]+/g, (s) => encodeURIComponent(s));
  } catch {
    return '/';
  }
}
