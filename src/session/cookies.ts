import { parseCookie, stringifySetCookie } from 'cookie';

export function parseCookies(header: string | undefined): Record<string, string | undefined> {
  return header ? parseCookie(header) : {};
}

/**
 * Secure, HttpOnly, SameSite=Lax, Path=/, and no Domain (what a `__Host-` cookie requires)
 * unless the config shares sessions with the subdomains of `domain`.
 */
export function setCookie(name: string, value: string, maxAgeSeconds: number, domain?: string): string {
  return stringifySetCookie({ name, value, secure: true, httpOnly: true, sameSite: 'lax', path: '/', maxAge: maxAgeSeconds, ...(domain === undefined ? {} : { domain }) });
}

export function clearCookie(name: string, domain?: string): string {
  return setCookie(name, '', 0, domain);
}

/** The request's cookie header without the cookies `drop` selects; undefined when none is left. */
export function withoutCookies(header: string, drop: (name: string) => boolean): string | undefined {
  const kept = header
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '' && !drop(c.slice(0, c.indexOf('=') < 0 ? c.length : c.indexOf('=')).trim()));
  return kept.length > 0 ? kept.join('; ') : undefined;
}
