import * as client from 'openid-client';
import type { OidcConfig } from '../config/config.js';
import { parseDuration } from '../duration.js';

export interface LoginRequest {
  readonly url: string;
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
}

export interface TokenResult {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly refreshToken: string | undefined;
  readonly idToken: string | undefined;
}

/**
 * How a request to the IdP failed:
 * - `oauth_error`: the IdP answered with an OAuth error body (`invalid_grant`: the refresh
 *   token is revoked or expired, the user is gone; `invalid_client`, ...): a verdict.
 * - `invalid`: the IdP answered, but the answer failed our checks (another subject, ID token
 *   claims), or there was nothing to ask with (no refresh token): a verdict too.
 * - `unavailable`: no usable answer: connection refused or reset, timeout, 5xx, an answer
 *   that is not an OAuth response at all (an HTML error page of a proxy, unparseable JSON), or
 *   the OAuth errors that mean "later" (`temporarily_unavailable`, `server_error`). A blip.
 */
export type IdpFailure = 'oauth_error' | 'invalid' | 'unavailable';

/** OAuth error codes that mean "try again later" (RFC 6749 4.1.2.1), at the token endpoint or in a callback. */
export const LATER_ERRORS: ReadonlySet<string> = new Set(['temporarily_unavailable', 'server_error']);
const NO_ANSWER_CODES = new Set(['OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_PARSE_ERROR', 'OAUTH_INVALID_RESPONSE', 'OAUTH_TIMEOUT', 'OAUTH_ABORT']);

export function idpFailure(e: unknown): IdpFailure {
  if (e instanceof client.ResponseBodyError || e instanceof client.WWWAuthenticateChallengeError) {
    const error = e instanceof client.ResponseBodyError ? e.error : undefined;
    return e.status >= 500 || (error !== undefined && LATER_ERRORS.has(error)) ? 'unavailable' : 'oauth_error';
  }
  // undici's `fetch failed` (refused, reset, DNS); other TypeErrors are bugs, not blips.
  if (e instanceof TypeError) return e.message === 'fetch failed' ? 'unavailable' : 'invalid';
  if (e instanceof client.ClientError && e.code !== undefined && NO_ANSWER_CODES.has(e.code)) return 'unavailable';
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return 'unavailable';
  return 'invalid';
}

/**
 * The OpenID Connect relying party (openid-client): discovery on first use (retried on
 * the next login if the IdP was down), authorization code flow with PKCE S256, state and
 * nonce; the ID token is checked by openid-client (signature, iss, aud, azp, exp, nonce,
 * and the RFC 9207 `iss` response parameter when the IdP sends it).
 */
export class OidcClient {
  readonly #options: OidcConfig;
  #config: Promise<client.Configuration> | undefined;

  constructor(options: OidcConfig) {
    this.#options = options;
  }

  #discover(): Promise<client.Configuration> {
    this.#config ??= client
      .discovery(new URL(this.#options.issuer), this.#options.client_id, this.#options.client_secret, undefined, {
        execute: this.#options.allow_insecure_http ? [client.allowInsecureRequests] : [],
        // Seconds; kept on the configuration for every later request (token, UserInfo) too.
        timeout: Math.max(1, parseDuration(this.#options.http_timeout) ?? 5000) / 1000,
      })
      .catch((e: unknown) => {
        this.#config = undefined;
        throw e;
      });
    return this.#config;
  }

  async loginUrl(redirectUri: string): Promise<LoginRequest> {
    const config = await this.#discover();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.#options.scopes.join(' '),
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, state, nonce, verifier };
  }

  /** Exchanges the code of `callbackUrl` (our redirect URI plus the query the IdP sent). */
  async exchange(callbackUrl: string, expected: { state: string; nonce: string; verifier: string }): Promise<TokenResult> {
    const config = await this.#discover();
    const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
      pkceCodeVerifier: expected.verifier,
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('the token response has no ID token');
    return { claims: { ...claims }, refreshToken: tokens.refresh_token, idToken: tokens.id_token };
  }

  /** New claims from a refresh: the ID token's when one is returned, else UserInfo's. */
  async refresh(refreshToken: string, subject: string): Promise<TokenResult> {
    const config = await this.#discover();
    const tokens = await client.refreshTokenGrant(config, refreshToken);
    let claims: Record<string, unknown> | undefined = tokens.claims() ? { ...tokens.claims() } : undefined;
    if (!claims) claims = { ...(await client.fetchUserInfo(config, tokens.access_token, subject)) };
    if (claims.sub !== subject) throw new Error('refreshed identity has another subject');
    return { claims, refreshToken: tokens.refresh_token ?? refreshToken, idToken: tokens.id_token };
  }

  /** RP-initiated logout at the IdP, when it supports it. */
  async endSessionUrl(postLogoutRedirectUri: string, idTokenHint: string | undefined): Promise<string | undefined> {
    const config = await this.#discover();
    if (!config.serverMetadata().end_session_endpoint) return undefined;
    const params: Record<string, string> = { post_logout_redirect_uri: postLogoutRedirectUri, client_id: this.#options.client_id };
    if (idTokenHint) params.id_token_hint = idTokenHint;
    return client.buildEndSessionUrl(config, params).href;
  }
}
