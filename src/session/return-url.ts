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
  if (v.startsWith('/')) return v.startsWith('//') ? '/' : v;
  const m = /^https?:\/\/([^/?#@]+)([/?#].*)?$/i.exec(v);
  if (!m) return '/';
  const host = normalizeHost(m[1]!);
  const ok = allowedHosts.some((a) => {
    const h = normalizeHost(a);
    return host === h || host.endsWith(`.${h}`);
  });
  return ok ? v : '/';
}
