import { childSpan } from '../telemetry/spans.js';
import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { OidcConfig, SessionConfig } from '../config/config.js';
import { parseDuration } from '../duration.js';
import { claimsToPrincipal } from '../identity/claims-to-principal.js';
import { NO_IDENTITY, invalidSession, suspended, type IdentityResult } from '../identity/identity-result.js';
import type { RequestFacts } from '../request/facts.js';
import { clearCookie, parseCookies, setCookie } from './cookies.js';
import type { LoginProblemPage } from '../response/deny-body.js';
import { LATER_ERRORS, idpFailure, type IdpFailure, type OidcClient } from './oidc-client.js';
import { safeReturnUrl } from './return-url.js';
import type { Sealer } from './sealer.js';
import type { SessionRecord, SessionStore } from './session-store.js';

/**
 * The identity of a session. The login time is the IdP's `auth_time`, else the moment of
 * the login: refreshed ID tokens carry a newer `iat`, which must not reset `session_age`.
 */
function principalOf(record: SessionRecord, oidc: OidcConfig, claimsStale = false): IdentityResult {
  const authTime = typeof record.claims.auth_time === 'number' ? record.claims.auth_time : Math.floor(record.createdAt / 1000);
  const p = claimsToPrincipal('session', { ...record.claims, iss: record.issuer, sub: record.subject, auth_time: authTime, exp: Math.floor(record.expiresAt / 1000) }, { groupsClaim: oidc.groups_claim, assumeEmailVerified: oidc.assume_email_verified });
  if (typeof p === 'string') return invalidSession(p);
  return { kind: 'principal', principal: claimsStale ? { ...p, sessionId: record.sid, claimsStale } : { ...p, sessionId: record.sid } };
}

/** A response Verdict gives itself (login, callback, logout), as a deny to Envoy. */
export interface WebAnswer {
  readonly status: number;
  readonly headers: [string, string][];
  readonly reasons: string[];
  readonly detail: string;
  readonly identity?: IdentityResult;
  /** The HTML page a browser gets instead of the generic deny page (a login that failed at the IdP). */
  readonly page?: LoginProblemPage;
}

export interface WebSessionsOptions {
  readonly oidc: OidcConfig;
  readonly session: SessionConfig;
  readonly sealer: Sealer;
  readonly store: SessionStore;
  readonly client: OidcClient;
  /** The exact hosts of the policy routes: only these get login callbacks. */
  readonly knownHosts: () => ReadonlySet<string>;
  /** A claims refresh or a login callback failed at the IdP (metric and rate-bounded log line). */
  readonly onIdpFailure?: (during: 'refresh' | 'callback', kind: IdpFailure, detail: string) => void;
}

/** What one refresh at the IdP gave: new claims, or why not. */
type RefreshOutcome = { readonly record: SessionRecord } | { readonly failure: IdpFailure; readonly detail: string };

/** A refresh in flight: every check of the session joins it, waiting at most until `waitUntil`. */
interface Flight {
  readonly done: Promise<RefreshOutcome>;
  readonly waitUntil: number;
}

/** The login answer states of a callback, by `state`: exchanged (or refused), in progress, failed at the IdP. */
type StateUse = 'pending' | 'done' | 'failed';

// Retries of a refresh that found the IdP unavailable, per session: 1 s doubling to 30 s, or
// sooner with a short grace period (first at 1/8 of it, then at most 1/4 apart), so that a
// few retries always fall within it.
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;
const RETRY_FLOOR_MS = 100;

/**
 * Until when a check may wait for a refresh: three quarters of the time it has until its
 * answer is due, the rest being for deciding, recording and answering (and strictly before
 * the moment the check's deadline queue would answer it 503 instead).
 */
function waitBound(answerByMs: number | undefined): number {
  if (answerByMs === undefined) return Number.POSITIVE_INFINITY;
  const now = Date.now();
  return now + Math.max(0, answerByMs - now) * 0.75;
}

/** `p`'s outcome, or undefined when it takes longer than `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => {
    timer = setTimeout(r, ms, undefined);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A short account of a failed IdP request for logs and the audit detail: codes, never tokens or IdP prose. */
function idpErrorDetail(e: unknown): string {
  if (e instanceof Error && 'error' in e && 'status' in e) return `${String(e.error)}, HTTP ${String(e.status)}`;
  const cause = e instanceof Error ? (e.cause as { code?: unknown } | undefined) : undefined;
  if (e instanceof TypeError && cause && typeof cause.code === 'string') return `${e.message}: ${cause.code}`;
  if (e instanceof Error && 'code' in e && typeof e.code === 'string') return `${e.message} (${e.code})`;
  return e instanceof Error ? e.message : String(e);
}

/** An IdP's `error` parameter for the audit detail: printable, bounded (anyone can craft a callback URL). */
function errorCode(raw: string): string {
  return /^[\x20-\x7e]{1,64}$/.test(raw) ? raw : '(unprintable or too long)';
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
  readonly #graceMs: number;
  readonly #httpTimeoutMs: number;
  readonly #loginMs: number;
  readonly #touchMs: number;
  readonly #usedStates: LRUCache<string, StateUse>;
  readonly #refreshing = new Map<string, Flight>();
  /** Sessions whose last refresh found the IdP unavailable: no new attempt before `next`. */
  readonly #retry: LRUCache<string, { next: number; delayMs: number }>;
  readonly #retryFirstMs: number;
  readonly #retryMaxMs: number;

  constructor(options: WebSessionsOptions) {
    this.#o = options;
    this.#maxAgeMs = ms(options.session.max_age);
    this.#idleMs = ms(options.session.idle_timeout);
    this.#refreshMs = ms(options.oidc.claims_refresh_interval);
    this.#graceMs = ms(options.oidc.claims_refresh_grace);
    this.#httpTimeoutMs = Math.max(1, ms(options.oidc.http_timeout));
    this.#loginMs = ms(options.oidc.login_timeout);
    this.#touchMs = Math.min(TOUCH_EVERY_MS, Math.floor(this.#idleMs / 4));
    this.#usedStates = new LRUCache({ max: 100_000, ttl: this.#loginMs });
    this.#retryFirstMs = Math.max(RETRY_FLOOR_MS, Math.min(RETRY_FIRST_MS, Math.floor(this.#graceMs / 8)));
    this.#retryMaxMs = Math.max(this.#retryFirstMs, Math.min(RETRY_MAX_MS, Math.floor(this.#graceMs / 4)));
    this.#retry = new LRUCache({ max: 100_000, ttl: this.#refreshMs + this.#graceMs + this.#retryMaxMs });
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
    // Only a page navigation starts a login. A proxy that sends every 401 here also sends the
    // browser's own fetches (a favicon after a retry page, an image): a login cookie set for
    // them could take the slot of the login the person is in, whose callback would then fail.
    const mode = facts.headers.get('sec-fetch-mode');
    if (mode !== undefined && mode !== 'navigate') {
      return { status: 401, headers: [], reasons: ['user-unauthenticated'], detail: `login not started: not a page navigation (Sec-Fetch-Mode: ${mode})` };
    }
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
  async resolve(facts: RequestFacts, nowMs: number, answerByMs?: number): Promise<IdentityResult> {
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
    let stale = false;
    if (nowMs - record.claimsRefreshedAt >= this.#refreshMs) {
      const r = await this.#refreshed(record, nowMs, answerByMs);
      if ('ended' in r) return invalidSession(r.ended);
      stale = r.stale;
      if (!stale) return principalOf(r.record, this.#o.oidc);
    }
    // Not while a refresh of this session runs: it writes lastSeen itself, and this older copy
    // (old claims, old refresh token) must not land after it.
    if (nowMs - record.lastSeen >= this.#touchMs && !(stale && this.#refreshing.has(record.sid))) {
      record = { ...record, lastSeen: nowMs };
      await this.#o.store.put(record);
    }
    return principalOf(record, this.#o.oidc, stale);
  }

  /**
   * The session's claims once a refresh is due. An answer of the IdP that refuses (an OAuth
   * error such as `invalid_grant`: refresh token revoked, user deleted) or fails our checks
   * ends the session at once. An IdP that cannot be reached (refused, reset, timeout, 5xx,
   * garbage) does not, for `claims_refresh_grace` after the refresh fell due: the session
   * keeps its last claims (`stale`), and later checks retry with backoff; a check never
   * waits for a slow IdP past its own answer time, nor longer than `http_timeout`.
   */
  async #refreshed(record: SessionRecord, nowMs: number, answerByMs: number | undefined): Promise<{ record: SessionRecord; stale: boolean } | { ended: string }> {
    const inGrace = nowMs < record.claimsRefreshedAt + this.#refreshMs + this.#graceMs;
    const retry = this.#retry.get(record.sid);
    // Failing lately: the IdP is not asked again before the backoff is over, and nobody waits.
    if (inGrace && retry && nowMs < retry.next && !this.#refreshing.has(record.sid)) return { record, stale: true };
    const flight = this.#flight(record, nowMs, answerByMs);
    let outcome: RefreshOutcome | undefined;
    if (inGrace) {
      const waitMs = Math.min(flight.waitUntil, waitBound(answerByMs)) - Date.now();
      outcome = waitMs > 0 ? await within(flight.done, waitMs) : undefined;
      // Slow IdP: answered from the last claims; the refresh goes on, its result is kept.
      if (outcome === undefined) return { record, stale: true };
    } else {
      // Past the grace period (or none): the refresh decides, bounded by http_timeout.
      outcome = await flight.done;
    }
    if ('record' in outcome) return { record: outcome.record, stale: false };
    if (outcome.failure === 'unavailable' && inGrace) return { record, stale: true };
    if (outcome.failure === 'unavailable') {
      await this.#o.store.delete(record.sid);
      return { ended: `claims could not be refreshed: the IdP was unavailable past claims_refresh_grace (${outcome.detail})` };
    }
    return { ended: outcome.failure === 'oauth_error' ? `claims refresh refused by the IdP (${outcome.detail})` : `claims could not be refreshed (${outcome.detail})` };
  }

  /** One refresh per session at a time; a refusal deletes the session there and then. */
  #flight(record: SessionRecord, nowMs: number, answerByMs: number | undefined): Flight {
    const running = this.#refreshing.get(record.sid);
    if (running) return running;
    const sid = record.sid;
    // Started on the next tick, so that it is in the map before it can end (and remove itself).
    const done = Promise.resolve().then(async (): Promise<RefreshOutcome> => {
      try {
        let r;
        try {
          if (!record.refreshToken) throw new Error('the IdP gave no refresh token');
          r = await this.#o.client.refresh(record.refreshToken, record.subject);
        } catch (e) {
          const failure = idpFailure(e);
          const detail = idpErrorDetail(e);
          this.#o.onIdpFailure?.('refresh', failure, detail);
          if (failure === 'unavailable') {
            const previous = this.#retry.get(sid)?.delayMs;
            const delayMs = previous === undefined ? this.#retryFirstMs : Math.min(this.#retryMaxMs, previous * 2);
            this.#retry.set(sid, { next: Date.now() + delayMs, delayMs });
          } else {
            this.#retry.delete(sid);
            await this.#o.store.delete(sid);
          }
          return { failure, detail };
        }
        // A store that fails here fails the checks waiting (503), not the session.
        const next: SessionRecord = { ...record, claims: r.claims, refreshToken: r.refreshToken, claimsRefreshedAt: nowMs, lastSeen: nowMs };
        await this.#o.store.put(next);
        this.#retry.delete(sid);
        return { record: next };
      } finally {
        this.#refreshing.delete(sid);
      }
    });
    // Checks that gave up waiting (a slow IdP) do not see a store failure: never unhandled.
    done.catch(() => undefined);
    // Joiners wait as long as the check that started it may: after that the IdP counts as slow.
    const flight: Flight = { done, waitUntil: Math.min(Date.now() + this.#httpTimeoutMs, waitBound(answerByMs)) };
    this.#refreshing.set(sid, flight);
    return flight;
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

  /**
   * The IdP's redirect back. A login that failed at the IdP (it redirected back with
   * `temporarily_unavailable`/`server_error`, or its token endpoint could not be reached)
   * gets a page with a link that starts a new login (fresh state, nonce and PKCE) to the
   * same return path; its login cookie becomes a marker without nonce or verifier, so a
   * reload of this callback shows the same page and never exchanges the code again. A
   * replay of a callback that was exchanged stays refused.
   */
  async callback(facts: RequestFacts, nowMs: number): Promise<WebAnswer> {
    const fail = (status: number, detail: string, headers: [string, string][] = []): WebAnswer => ({ status, headers, reasons: ['login-failed'], detail });
    if (!this.#ownHost(facts)) return fail(400, 'callback on a host no route names');
    const params = new URLSearchParams(facts.query);
    const state = params.get('state') ?? '';
    const cookieName = this.#loginCookieName(state);
    const raw = state.length >= 16 ? parseCookies(facts.headers.get('cookie'))[cookieName] : undefined;
    const clear: [string, string][] = raw === undefined ? [] : [['set-cookie', clearCookie(cookieName)]];
    const opened = raw === undefined ? undefined : await this.#o.sealer.open(raw, 'login', nowMs);
    const login = opened && opened.st === state && opened.h === facts.host ? opened : undefined;
    const returnTo = safeReturnUrl(login ? String(login.r) : '/', []);
    const again = `${this.#o.oidc.login_path}?rd=${encodeURIComponent(returnTo)}`;
    const error = params.get('error');
    if (error !== null) {
      const code = errorCode(error);
      if (LATER_ERRORS.has(error)) {
        this.#o.onIdpFailure?.('callback', 'unavailable', `the IdP redirected back with ${code}`);
        return this.#idpUnavailable(`the IdP answered ${code}`, again, login ? await this.#failedMarker(cookieName, state, returnTo, facts.host, nowMs) : clear);
      }
      // The person (or a policy at the IdP) said no: a refusal, not an outage.
      return { status: 403, headers: clear, reasons: ['login-failed'], detail: `the IdP answered ${code}`, page: { kind: 'idp-denied', again } };
    }
    if (!login) return fail(400, 'no login in progress for this state (missing, expired or foreign login cookie)', clear);
    const use = this.#usedStates.get(state);
    if (login.f === 'unavailable' || use === 'failed') return this.#idpUnavailable('callback of a login that failed at the IdP, loaded again: retry page served, code not exchanged', again, []);
    if (use !== undefined) return fail(400, 'login state used before (replay)', clear);
    this.#usedStates.set(state, 'pending');

    let tokens;
    try {
      tokens = await this.#o.client.exchange(`${this.#origin(facts.host)}${this.#o.oidc.callback_path}?${facts.query}`, {
        state,
        nonce: String(login.n),
        verifier: String(login.v),
      });
    } catch (e) {
      const kind = idpFailure(e);
      this.#o.onIdpFailure?.('callback', kind, idpErrorDetail(e));
      if (kind === 'unavailable') {
        this.#usedStates.set(state, 'failed');
        return this.#idpUnavailable(`code exchange failed, the IdP was unavailable: ${idpErrorDetail(e)}`, again, await this.#failedMarker(cookieName, state, returnTo, facts.host, nowMs));
      }
      this.#usedStates.set(state, 'done');
      return fail(403, `code exchange or ID token check failed: ${(e as Error).message}`, clear);
    }
    this.#usedStates.set(state, 'done');
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

  /** 502 with the "try again" page: the IdP did not answer, a new login may work. */
  #idpUnavailable(detail: string, again: string, headers: [string, string][]): WebAnswer {
    return { status: 502, headers, reasons: ['login-failed', 'idp-unavailable'], detail, page: { kind: 'idp-unavailable', again } };
  }

  /**
   * The login cookie of a login that failed at the IdP, replaced by a marker: same state,
   * return path and host, no nonce and no PKCE verifier, so nothing can complete it. A
   * reload of the callback finds it and shows the retry page again (on any replica).
   */
  async #failedMarker(name: string, state: string, returnTo: string, host: string, nowMs: number): Promise<[string, string][]> {
    const sealed = await this.#o.sealer.seal({ st: state, r: returnTo, h: host, f: 'unavailable' }, 'login', Math.floor(this.#loginMs / 1000), nowMs);
    return [['set-cookie', setCookie(name, sealed, Math.floor(this.#loginMs / 1000))]];
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
