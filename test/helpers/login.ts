import assert from 'node:assert/strict';
import { authClient, envoyCheckRequest, headerValue, type CheckResponseJs } from './envoy-client.js';
import { IdpBrowser } from './oidc-idp.js';
import { cookiePairs } from './sessions.js';

export const HTML = 'text/html,application/xhtml+xml,*/*;q=0.8';
export const setCookies = (r: CheckResponseJs): string[] => (r.denied_response?.headers ?? []).filter((h) => h.header.key === 'set-cookie').map((h) => h.header.value);
export const status = (r: CheckResponseJs): number => ((r.status?.code ?? 0) === 0 ? 200 : Number(r.denied_response?.status?.code));

/**
 * A browser login as Envoy would relay it through Check calls: the 302 to the IdP, the
 * IdP's own login and consent pages, the callback. Returns the session cookie header.
 */
export async function loginThroughCheck(client: ReturnType<typeof authClient>, user: string, path = '/'): Promise<{ cookie: string; start: CheckResponseJs; done: CheckResponseJs }> {
  const start = await client.check(envoyCheckRequest({ path, headers: { accept: HTML } }));
  assert.equal(status(start), 302, 'a browser is sent to log in');
  const authorize = headerValue(start.denied_response?.headers, 'location')!;
  const loginCookie = setCookies(start).find((c) => c.startsWith('__Host-verdict_login_'))!;
  const callbackUrl = await new IdpBrowser().login(authorize, user);
  const cb = new URL(callbackUrl);
  const cookieHeader = [...cookiePairs([loginCookie])].map(([k, v]) => `${k}=${v}`).join('; ');
  const done = await client.check(envoyCheckRequest({ path: cb.pathname + cb.search, headers: { accept: HTML, cookie: cookieHeader } }));
  assert.equal(status(done), 302, JSON.stringify(done.denied_response?.body));
  const session = setCookies(done).find((c) => c.startsWith('__Host-verdict_session='))!;
  return { cookie: [...cookiePairs([session])].map(([k, v]) => `${k}=${v}`).join('; '), start, done };
}
