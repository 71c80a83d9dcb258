import { childSpan } from '../telemetry/spans.js';
import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { OidcConfig, SessionConfig } from '../config/config.js';
import { parseDuration } from '../duration.js';
import { claimsToPrincipal } from '../identity/claims-to-principal.js';
import { NO_IDENTITY, invalidSession, suspended, type IdentityResult } from '../identity/identity-result.js';
import type { RequestFacts } from '../request/facts.js';
import { clearCookie, parseCookies, setCookie } from './cookies.js';
import type { OidcClient } from './oidc-client.js';
import { safeReturnUrl } from './return-url.js';
import type { Sealer } from './sealer.js';
import type { SessionRecord, SessionStore } from './session-store.js';

/**
 * The identity of a session. The login time is the IdP's `auth_time`, else the moment of
 * the login: refreshed ID tokens carry a newer `iat`, which must not reset `session_age`.
 */
function principalOf(record: SessionRecord, oidc: OidcConfig): IdentityResult {
  const authTime = typeof record.claims.auth_time === 'number' ? record.claims.auth_time : Math.floor(record.createdAt / 1000);
  const p = claimsToPrincipal('session', { ...record.claims, iss: record.issuer, sub: record.subject, auth_time: authTime, exp: Math.floor(record.expiresAt / 1000) }, { groupsClaim: oidc.groups_claim, assumeEmailVerified: oidc.assume_email_verified });
  return typeof p === 'string' ? invalidSession(p) : { kind: 'principal', principal: { ...p, sessionId: record.sid } };
}

/** A response Verdict gives itself (login, callback, logout), as a deny to Envoy. */
export interface WebAnswer {
  readonly status: number;
  readonly headers: [string, string][];
  readonly reasons: string[];
  readonly detail: string;
  readonly identity?: IdentityResult;
}

export interface WebSessionsOptions {
  readonly oidc: OidcConfig;
  readonly session: SessionConfig;
  readonly sealer: Sealer;
  readonly store: SessionStore;
  readonly client: OidcClient;
  /** The exact hosts of the policy routes: only these get login callbacks. */
  readonly knownHosts: () => ReadonlySet<string>;
}

const ms = (d: string): number => parseDuration(d)!;
// Login state cookies are `__Host-`: the callback always comes back to the host that started it.
const LOGIN_PREFIX = '__Host-verdict_login_';

/**
 * Whether a logout comes from a page of this origin (or was typed by the user), so a
 * cross-site link or form cannot end someone's session. Fetch metadata first; `Origin` for
 * browsers without it; a request that proves neither gets a confirmation page instead.
 */
function sameOriginLogout(facts: RequestFacts, origin: string): boolean {
  const site = facts.headers.get('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' || (site === 'none' && facts.method === 'GET');
  const from = facts.headers.get('origin');
  return from !== undefined && from === origin;
}
// lastSeen is written at most this often per session (and at least 4 times per idle
// timeout): idle timeouts are exact to this much, and the store is not written per request.
const TOUCH_EVERY_MS = 30_000;

/**
 * Browser sessions: OIDC login and callback, session cookies, logout, and the
 * continuous verification of every request that carries a session cookie.
 */
export class WebSessions {
  readonly #o: WebSessionsOptions;
  readonly #maxAgeMs: number;
  readonly #idleMs: number;
  readonly #refreshMs: number;
  readonly #loginMs: number;
  readonly #touchMs: number;
  readonly #usedStates: LRUCache<string, true>;
  readonly #refreshing = new Map<string, Promise<SessionRecord | undefined>>();

  constructor(options: WebSessionsOptions) {
    this.#o = options;
    this.#maxAgeMs = ms(options.session.max_age);
    this.#idleMs = ms(options.session.idle_timeout);
    this.#refreshMs = ms(options.oidc.claims_refresh_interval);
    this.#loginMs = ms(options.oidc.login_timeout);
    this.#touchMs = Math.min(TOUCH_EVERY_MS, Math.floor(this.#idleMs / 4));
    this.#usedStates = new LRUCache({ max: 100_000, ttl: this.#loginMs });
  }

  /** Session key ids in force, newest first (key rotation is visible in the start record). */
  get keyIds(): string[] {
    return this.#o.sealer.kids;
  }

  /** Cookies that are Verdict's own and never go upstream. */
  isOwnCookie = (name: string): boolean => name === this.#o.session.cookie_name || name.startsWith(LOGIN_PREFIX);

  /**
   * The login state cookie of `state`. A browser holds at most `max_login_cookies` of them
   * however many tabs start a login at once: the name is one of that many slots, chosen by
   * the state, so parallel logins overwrite each other's slot instead of adding cookies.
   */
  #loginCookieName(state: string): string {
    const slot = createHash('sha256').update(state).digest().readUInt32BE(0) % this.#o.session.max_login_cookies;
    return `${LOGIN_PREFIX}${slot}`;
  }

  /** Whether a session issued for `issuedHost` may be used on `host`. */
  #hostMayUse(issuedHost: unknown, host: string): boolean {
    const domain = this.#o.session.cookie_domain;
    if (domain !== undefined) return host === domain || host.endsWith(`.${domain}`);
    return typeof issuedHost === 'string' && issuedHost === host;
  }

  flowPath(facts: RequestFacts): 'callback' | 'logout' | 'login' | undefined {
    if (facts.path === this.#o.oidc.callback_path) return 'callback';
    if (facts.path === this.#o.oidc.logout_path) return 'logout';
    if (facts.path === this.#o.oidc.login_path) return 'login';
    return undefined;
  }

  /**
   * `login_path?rd=<path>`: where proxies that can only answer 401 (nginx auth_request)
   * send browsers. Everything after `rd=` is the return path, checked like any return URL.
   */
  async loginStart(facts: RequestFacts, nowMs: number): Promise<WebAnswer> {
    const i = facts.query.indexOf('rd=');
    const back = safeReturnUrl(i < 0 ? '/' : facts.query.slice(i + 3), []);
    const q = back.indexOf('?');
    const target: RequestFacts = { ...facts, path: q < 0 ? back : back.slice(0, q), query: q < 0 ? '' : back.slice(q + 1) };
    const answer = await this.loginRedirect(target, nowMs);
    return answer ?? { status: 400, headers: [], reasons: ['login-failed'], detail: 'login requested on a host no route names' };
  }

  #origin(host: string): string {
    const port = this.#o.oidc.public_port;
    return `${this.#o.oidc.public_scheme}://${host}${port === undefined ? '' : `:${port}`}`;
  }

  #ownHost(facts: RequestFacts): boolean {
    return facts.host !== '' && this.#o.knownHosts().has(facts.host);
  }

  // ---- continuous verification -------------------------------------------------------

  /** The identity of a session cookie, re-checked against the store on every request. */
  async resolve(facts: RequestFacts, nowMs: number): Promise<IdentityResult> {
    const cookie = parseCookies(facts.headers.get('cookie'))[this.#o.session.cookie_name];
    if (cookie === undefined || cookie === '') return NO_IDENTITY;
    const sealed = await this.#o.sealer.open(cookie, 'session', nowMs);
    if (!sealed || typeof sealed.sid !== 'string') return invalidSession('session cookie is tampered, expired or sealed with an unknown key');
    // A cookie copied to another host (by an upstream app that saw it, say) is not a session there.
    if (!this.#hostMayUse(sealed.h, facts.host)) return invalidSession('session was issued for another host');
    const sid = sealed.sid;
    let record = await childSpan('verdict.session_store.get', undefined, () => this.#o.store.get(sid));
    if (!record || record.issuer !== sealed.iss || record.subject !== sealed.sub) return invalidSession('session is revoked or unknown');
    if (nowMs >= record.expiresAt) {
      await this.#o.store.delete(record.sid);
      return invalidSession('session reached its max_age');
    }
    if (nowMs - record.lastSeen > this.#idleMs) {
      await this.#o.store.delete(record.sid);
      return invalidSession('session was idle longer than idle_timeout');
    }
    const { issuer, subject } = record;
    if (await childSpan('verdict.session_store.suspended', undefined, () => this.#o.store.isSuspended(issuer, subject))) return suspended('session of a suspended user');
    if (nowMs - record.claimsRefreshedAt >= this.#refreshMs) {
      record = await this.#refresh(record, nowMs);
      if (!record) return invalidSession('claims could not be refreshed at the IdP');
    } else if (nowMs - record.lastSeen >= this.#touchMs) {
      record = { ...record, lastSeen: nowMs };
      await this.#o.store.put(record);
    }
    return principalOf(record, this.#o.oidc);
  }

  /** One refresh per session at a time; a failed refresh ends the session. */
  #refresh(record: SessionRecord, nowMs: number): Promise<SessionRecord | undefined> {
    let p = this.#refreshing.get(record.sid);
    if (!p) {
      p = (async () => {
        try {
          if (!record.refreshToken) throw new Error('no refresh token');
          const r = await this.#o.client.refresh(record.refreshToken, record.subject);
          const next: SessionRecord = { ...record, claims: r.claims, refreshToken: r.refreshToken, claimsRefreshedAt: nowMs, lastSeen: nowMs };
          await this.#o.store.put(next);
          return next;
        } catch {
          await this.#o.store.delete(record.sid);
          return undefined;
        } finally {
          this.#refreshing.delete(record.sid);
        }
      })();
      this.#refreshing.set(record.sid, p);
    }
    return p;
  }

  // ---- login --------------------------------------------------------------------------

  /** 302 to the IdP for a browser on one of our hosts; undefined when that cannot be. */
  async loginRedirect(facts: RequestFacts, nowMs: number): Promise<WebAnswer | undefined> {
    if (!this.#ownHost(facts)) return undefined;
    const login = await this.#o.client.loginUrl(this.#origin(facts.host) + this.#o.oidc.callback_path);
    // An absolute return URL (allowlisted host) cannot come from here: only this host's path.
    const returnTo = safeReturnUrl(facts.path + (facts.query ? `?${facts.query}` : ''), []);
    const sealed = await this.#o.sealer.seal({ st: login.state, n: login.nonce, v: login.verifier, r: returnTo, h: facts.host }, 'login', Math.floor(this.#loginMs / 1000), nowMs);
    const headers: [string, string][] = [['location', login.url]];
    const name = this.#loginCookieName(login.state);
    // Login cookies outside the slots (older versions, other settings) are cleared.
    const slots = new Set(Array.from({ length: this.#o.session.max_login_cookies }, (_, i) => `${LOGIN_PREFIX}${i}`));
    for (const old of Object.keys(parseCookies(facts.headers.get('cookie')))) {
      if (old.startsWith(LOGIN_PREFIX) && !slots.has(old)) headers.push(['set-cookie', clearCookie(old)]);
    }
    headers.push(['set-cookie', setCookie(name, sealed, Math.floor(this.#loginMs / 1000))]);
    return { status: 302, headers, reasons: ['user-unauthenticated'], detail: 'browser sent to log in' };
  }

  async callback(facts: RequestFacts, nowMs: number): Promise<WebAnswer> {
    const fail = (status: number, detail: string, headers: [string, string][] = []): WebAnswer => ({ status, headers, reasons: ['login-failed'], detail });
    if (!this.#ownHost(facts)) return fail(400, 'callback on a host no route names');
    const params = new URLSearchParams(facts.query);
    const state = params.get('state') ?? '';
    const cookieName = this.#loginCookieName(state);
    const raw = state.length >= 16 ? parseCookies(facts.headers.get('cookie'))[cookieName] : undefined;
    const clear: [string, string][] = raw === undefined ? [] : [['set-cookie', clearCookie(cookieName)]];
    if (params.has('error')) return fail(403, `the IdP answered ${params.get('error')}`, clear);
    const login = raw === undefined ? undefined : await this.#o.sealer.open(raw, 'login', nowMs);
    if (!login || login.st !== state || login.h !== facts.host) return fail(400, 'no login in progress for this state (missing, expired or foreign login cookie)', clear);
    if (this.#usedStates.has(state)) return fail(400, 'login state used before (replay)', clear);
    this.#usedStates.set(state, true);

    let tokens;
    try {
      tokens = await this.#o.client.exchange(`${this.#origin(facts.host)}${this.#o.oidc.callback_path}?${facts.query}`, {
        state,
        nonce: String(login.n),
        verifier: String(login.v),
      });
    } catch (e) {
      return fail(403, `code exchange or ID token check failed: ${(e as Error).message}`, clear);
    }
    const claims = tokens.claims;
    const issuer = String(claims.iss);
    const subject = String(claims.sub);
    if (await this.#o.store.isSuspended(issuer, subject)) return fail(403, 'user is suspended', clear);
    // A fresh session id at every login: nothing from before the login carries over.
    const record: SessionRecord = {
      sid: randomUUID(),
      issuer,
      subject,
      claims,
      createdAt: nowMs,
      expiresAt: nowMs + this.#maxAgeMs,
      lastSeen: nowMs,
      claimsRefreshedAt: nowMs,
      refreshToken: tokens.refreshToken,
    };
    await this.#o.store.put(record);
    // The host the session is for is sealed in: see #hostMayUse.
    const cookie = await this.#o.sealer.seal({ sid: record.sid, iss: issuer, sub: subject, h: facts.host }, 'session', Math.floor(this.#maxAgeMs / 1000), nowMs);
    return {
      status: 302,
      headers: [['location', safeReturnUrl(String(login.r), [])], ['set-cookie', setCookie(this.#o.session.cookie_name, cookie, Math.floor(this.#maxAgeMs / 1000), this.#o.session.cookie_domain)], ...clear],
      reasons: ['login-callback'],
      detail: 'login completed, session created',
      identity: principalOf(record, this.#o.oidc),
    };
  }

  // ---- logout -------------------------------------------------------------------------

  async logout(facts: RequestFacts, nowMs: number): Promise<WebAnswer> {
    if (!sameOriginLogout(facts, this.#origin(facts.host))) {
      // The page's form posts back to this same URL, from this origin.
      return { status: 200, headers: [], reasons: ['logout-confirm'], detail: 'logout without same-origin proof: confirmation page served, session kept' };
    }
    const name = this.#o.session.cookie_name;
    const raw = parseCookies(facts.headers.get('cookie'))[name];
    const sealed = raw ? await this.#o.sealer.open(raw, 'session', nowMs) : undefined;
    let identity: IdentityResult = NO_IDENTITY;
    if (sealed && typeof sealed.sid === 'string') {
      const record = await this.#o.store.get(sealed.sid);
      if (record) identity = principalOf(record, this.#o.oidc);
      await this.#o.store.delete(sealed.sid);
    }
    const back = safeReturnUrl(new URLSearchParams(facts.query).get('return_to') ?? this.#o.oidc.post_logout_redirect, this.#o.oidc.allowed_return_hosts);
    let location = back;
    if (this.#ownHost(facts)) {
      const absolute = back.startsWith('/') ? this.#origin(facts.host) + back : back;
      try {
        location = (await this.#o.client.endSessionUrl(absolute, undefined)) ?? back;
      } catch {
        location = back; // IdP unreachable: the local session is gone all the same
      }
    }
    return { status: 302, headers: [['location', location], ['set-cookie', clearCookie(name, this.#o.session.cookie_domain)]], reasons: ['logout'], detail: sealed ? 'session revoked' : 'no session to revoke', identity };
  }
}
