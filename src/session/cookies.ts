import { parseCookie, stringifySetCookie } from 'cookie';

export function parseCookies(header: string | undefined): Record<string, string | undefined> {
  return header ? parseCookie(header) : {};
}

/** Secure, HttpOnly, SameSite=Lax, Path=/, no Domain: what a `__Host-` cookie requires. */
export function setCookie(name: string, value: string, maxAgeSeconds: number): string {
  return stringifySetCookie({ name, value, secure: true, httpOnly: true, sameSite: 'lax', path: '/', maxAge: maxAgeSeconds });
}

export function clearCookie(name: string): string {
  return stringifySetCookie({ name, value: '', secure: true, httpOnly: true, sameSite: 'lax', path: '/', maxAge: 0 });
}

/** The request's cookie header without the cookies `drop` selects; undefined when none is left. */
export function withoutCookies(header: string, drop: (name: string) => boolean): string | undefined {
  const kept = header
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '' && !drop(c.slice(0, c.indexOf('=') < 0 ? c.length : c.indexOf('=')).trim()));
  return kept.length > 0 ? kept.join('; ') : undefined;
}
