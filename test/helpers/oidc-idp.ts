import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration } from 'oidc-provider';

export interface IdpUser {
  email: string;
  email_verified?: boolean;
  groups: string[];
}

/**
 * A fault of the token endpoint (outage tests): an HTTP status with a non-OAuth body (a
 * proxy's error page) or with an OAuth error body, an answer that never comes, or a
 * connection dropped without an answer.
 */
export type TokenFault = { status: number; oauthError?: string } | 'hang' | 'reset';

/**
 * A real OpenID Provider (the `oidc-provider` package) on loopback, with its built-in
 * development login and consent pages, two users, and groups that tests may change.
 * Tests may also break its token endpoint (`tokenFault`) or stop it altogether (`stop`).
 */
export class TestOidcProvider {
  readonly users = new Map<string, IdpUser>([
    ['alice', { email: 'alice@example.com', groups: ['sre'] }],
    ['bob', { email: 'bob@example.com', groups: ['dev'] }],
  ]);
  server!: Server;
  issuer = '';
  provider!: Provider;
  port = 0;
  /** Requests to the token endpoint so far (code exchanges and refreshes, faulted ones too). */
  tokenRequests = 0;
  /** The fault the token endpoint answers with, while set. */
  tokenFault: TokenFault | undefined;
  /** How many more token requests get `tokenFault` (undefined: all, until it is cleared). */
  tokenFaultTimes: number | undefined;
  readonly #held = new Set<ServerResponse>();

  static async start(client: { redirectUris: string[]; postLogoutRedirectUris?: string[] }): Promise<TestOidcProvider> {
    const idp = new TestOidcProvider();
    idp.server = createServer();
    await new Promise<void>((r) => idp.server.listen(0, '127.0.0.1', r));
    idp.port = (idp.server.address() as AddressInfo).port;
    idp.issuer = `http://127.0.0.1:${idp.port}`;
    const configuration: Configuration = {
      clients: [
        {
          client_id: 'verdict',
          client_secret: 'verdict-test-secret',
          redirect_uris: client.redirectUris,
          post_logout_redirect_uris: client.postLogoutRedirectUris ?? [],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
      ],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
      scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
      conformIdTokenClaims: false,
      issueRefreshToken: async () => true,
      pkce: { required: () => true },
      cookies: { keys: ['test-cookie-key-1'] },
      features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
      findAccount: async (_ctx, id) => {
        if (!idp.users.has(id)) return undefined;
        return {
          accountId: id,
          claims: async () => {
            const u = idp.users.get(id)!;
            return { sub: id, email: u.email, email_verified: u.email_verified ?? true, groups: [...u.groups], name: id };
          },
        };
      },
      ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, RefreshToken: 3600, Grant: 3600, Interaction: 600, Session: 3600 },
    };
    idp.provider = new Provider(idp.issuer, configuration);
    idp.provider.proxy = false;
    const serve = idp.provider.callback();
    idp.server.on('request', (req, res) => {
      if (req.method === 'POST' && req.url?.startsWith('/token')) {
        idp.tokenRequests++;
        const fault = idp.tokenFault;
        if (fault !== undefined && (idp.tokenFaultTimes === undefined || idp.tokenFaultTimes-- > 0)) {
          if (fault === 'reset') {
            req.socket.destroy();
          } else if (fault === 'hang') {
            idp.#held.add(res);
            res.on('close', () => idp.#held.delete(res));
          } else if (fault.oauthError) {
            res.writeHead(fault.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: fault.oauthError }));
          } else {
            res.writeHead(fault.status, { 'content-type': 'text/html' }).end('<html><body><h1>Bad gateway</h1></body></html>');
          }
          return;
        }
      }
      void serve(req, res);
    });
    return idp;
  }

  /** Clears the token fault; answers held by `hang` are dropped. */
  heal(): void {
    this.tokenFault = undefined;
    this.tokenFaultTimes = undefined;
    for (const res of this.#held) res.destroy();
  }

  /** Stops listening (connections are refused) until `start`; the port stays this IdP's issuer. */
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  /** Listens again on the same port (the issuer URL is unchanged). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A tiny cookie jar + redirect walker, to go through the IdP's login like a browser. */
export class IdpBrowser {
  readonly #jar = new Map<string, string>();

  #store(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      this.#jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1));
    }
  }

  async #go(url: string, init: RequestInit = {}): Promise<Response> {
    const cookie = [...this.#jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie } });
    this.#store(res);
    return res;
  }

  /**
   * From the authorization URL Verdict sent the browser to, through login and consent,
   * to the redirect back to Verdict's callback (returned, not followed).
   */
  async login(authorizeUrl: string, user: string): Promise<string> {
    let url = authorizeUrl;
    for (let i = 0; i < 12; i++) {
      const res = await this.#go(url);
      if (res.status >= 300 && res.status < 400) {
        const next = new URL(res.headers.get('location')!, url).href;
        if (!next.startsWith(new URL(authorizeUrl).origin)) return next;
        url = next;
        continue;
      }
      const html = await res.text();
      const action = /action="([^"]+)"/.exec(html)?.[1];
      if (!action) throw new Error(`IdP page without a form (${res.status}): ${html.slice(0, 300)}`);
      const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
      const body = new URLSearchParams(prompt === 'login' ? { prompt, login: user, password: 'any' } : { prompt: prompt ?? 'consent' });
      const post = await this.#go(new URL(action, url).href, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      url = new URL(post.headers.get('location')!, url).href;
    }
    throw new Error('too many steps at the IdP');
  }
}
