import { randomBytes } from 'node:crypto';

export const sessionKey = (): string => randomBytes(32).toString('base64url');

/** `name=value` pairs from Set-Cookie values, for the next request's Cookie header. */
export function cookiePairs(setCookies: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of setCookies) {
    const pair = c.split(';')[0]!;
    const eq = pair.indexOf('=');
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}
