import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AuditWriter, type AuditSink } from './audit/audit-writer.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importJWK, importPKCS8, type CryptoKey } from 'jose';
import { controlRecord } from './audit/record.js';
import { answerSent, runCheck, type CheckDeps } from './check.js';
import type { Config } from './config/config.js';
import { settingOrigin } from './config/load-config.js';
import { VerdictError, describeError, describeFsError, type SettingOrigin } from './errors.js';
import { defaultIssuers, durationMs, identityFromConfig } from './identity/from-config.js';
import { internalError } from './policy/decision.js';
import { PolicyStore, emptyPolicyProblem, loadPolicyDir, type ReloadEvent } from './policy-store/policy-store.js';
import { factsFromCheckRequest } from './request/from-check-request.js';
import { checkResponse, metadataFields, sameOutcome, type CheckOutcome } from './response/check-response.js';
import { httpAnswer } from './response/http-answer.js';
import { factsFromDirect, factsFromEnvoyHttp, factsFromForwardAuth } from './request/from-http.js';
import { compileTrustedProxies, type TrustCheck } from './request/trusted-proxies.js';
import { NO_IDENTITY } from './identity/identity-result.js';
import { GrpcServer, serverCredentials } from './servers/grpc-server.js';
import { HttpServer } from './servers/http-server.js';
import { checkHeaders, checkResponseHeaders } from './servers/answer-headers.js';
import { splitListen } from './servers/listen-address.js';
import { Metrics } from './servers/metrics.js';
import { MemorySessionStore } from './session/memory-store.js';
import { RedisSessionStore } from './session/redis-store.js';
import { handleAdmin } from './servers/admin-api.js';
import { AssertionSigner } from './identity/assertion-signer.js';
import { TailnetWhois } from './identity/tailnet-whois.js';
import { SyslogForwarder } from './audit/syslog-forwarder.js';
import { OidcClient } from './session/oidc-client.js';
import { Sealer } from './session/sealer.js';
import type { SessionStore } from './session/session-store.js';
import { WebSessions, type WebSessionsOptions } from './session/web-sessions.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { startTracing } from './telemetry/tracing.js';

/** Waits for `work`, or `ms`, whichever is first. */
async function untilOrAfter(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
import { noIdentityWarning } from './policy/identity-needs.js';
import type { PolicySet } from './policy/policy-set.js';
import { Throttle } from './throttle.js';

/** Where `serve` keeps the audit signing key it generates when none is configured. */
export function generatedAuditKeyPath(auditPath: string): string {
  return join(dirname(auditPath), 'audit-signing-key.pem');
}

interface AuditKey {
  readonly key: CryptoKey;
  readonly kid: string;
  readonly publicPem: string;
  readonly file: string;
  readonly generated: boolean;
}

async function loadAuditKey(file: string, generated: boolean, origin: SettingOrigin): Promise<AuditKey> {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    throw new VerdictError('CONFIG_INVALID', 'unreadable audit signing key', { problems: [{ ...origin, message: `cannot read ${file}: ${describeFsError(e, 'file')}` }] });
  }
  try {
    const key = await importPKCS8(pem, 'ES256', { extractable: true });
    const { kty, crv, x, y } = await exportJWK(key);
    const jwk = { kty: kty!, crv, x, y };
    const publicPem = await exportSPKI(await importJWK(jwk, 'ES256') as CryptoKey);
    return { key, kid: await calculateJwkThumbprint(jwk), publicPem, file, generated };
  } catch (e) {
    throw new VerdictError('CONFIG_INVALID', 'bad audit signing key', { problems: [{ ...origin, message: `${file} is not a PKCS#8 PEM P-256 private key (${(e as Error).message}); make one with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` }] });
  }
}

/**
 * The checkpoint signing key: `audit.signing_key_file`, or for the file sink one generated on
 * first start and kept beside the trail (mode 0600), so the default trail is signed — without
 * a signature, whoever can write the file can recompute the whole chain.
 */
/**
 * `serve --workers N`: the primary makes (or finds) the generated audit key before forking, so
 * workers starting together never race to write it; they then all load the one key.
 */
export async function prepareAuditKey(config: Config, log: Logger): Promise<void> {
  await auditKeyFromConfig(config, log, true);
}

async function auditKeyFromConfig(config: Config, log: Logger, generate: boolean): Promise<AuditKey | undefined> {
  const a = config.audit;
  const origin = settingOrigin(config, '/audit/signing_key_file');
  if (a.signing_key_file) return loadAuditKey(a.signing_key_file, false, origin);
  if (!generate || a.sink !== 'file' || !a.path) return undefined;
  const file = generatedAuditKeyPath(a.path);
  if (!existsSync(file)) {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    mkdirSync(dirname(file), { recursive: true });
    try {
      // wx: never overwrite a key another process just wrote.
      writeFileSync(file, await exportPKCS8(privateKey), { mode: 0o600, flag: 'wx' });
      writeFileSync(file.replace(/\.pem$/, '.pub.pem'), await exportSPKI(publicKey), { mode: 0o644 });
      log.warn({ file }, 'audit.signing_key_file not set: generated an audit signing key (keep its public key elsewhere to verify the trail)');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new VerdictError('CONFIG_INVALID', 'cannot keep an audit signing key', { problems: [{ file: config.file ?? '(built-in defaults)', pointer: '/audit/signing_key_file', message: `not set, and ${file} cannot be written: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }] });
      }
    }
  }
  return loadAuditKey(file, true, { ...origin, pointer: '/audit/path' });
}

/** The audit trail of `config.audit`: sync (group commit) by default for files, async for stdout. */
async function auditFromConfig(config: Config, log: Logger, metrics: Metrics, signingKey: AuditKey | undefined): Promise<AuditSink> {
  const a = config.audit;
  // One summary line per interval, however many copies are dropped.
  const syslogDrops = new Throttle(10_000, (n) => log.warn({ dropped: n }, 'syslog receiver away or not reading: audit copies dropped (the local trail is complete)'));
  return new AuditWriter({
    sink: a.sink,
    path: a.path,
    mode: a.mode ?? (a.sink === 'file' ? 'sync' : 'async'),
    maxDelayMs: durationMs(a.max_delay),
    checkpointEvery: a.checkpoint_every,
    checkpointIntervalMs: durationMs(a.checkpoint_interval),
    signingKey,
    durability: a.durability,
    onFailure: (e) => {
      metrics.auditSink(false);
      log.error({ err: e.message }, 'audit sink failed: denying every decision (503) and retrying until writing works again');
    },
    onRecover: (info) => {
      metrics.auditSink(true);
      log.warn({ down_ms: info.downMs, unrecorded: info.unrecorded, records_lost: info.lost, attempts: info.attempts }, 'audit sink recovered: answering decisions again');
    },
    onReopen: (reason) => {
      metrics.auditReopen(reason);
      log[reason === 'removed' ? 'warn' : 'info']({ reason, path: a.path }, 'audit file reopened at its path');
    },
    rotateBytes: a.rotate_bytes,
    rotateMs: a.rotate_interval === '0' ? 0 : durationMs(a.rotate_interval),
    retentionMs: a.retention_days * 86_400_000,
    retentionAction: a.retention_action,
    forward: a.syslog
      ? new SyslogForwarder({ ...splitListen(a.syslog.address), maxQueue: a.syslog.max_queue, onDrop: (n) => (metrics.syslogDropped(n), syslogDrops.hit(n)) })
      : undefined,
  });
}

/** Browser sessions and their store, when `identity.oidc` is configured. */
async function webSessionsFromConfig(config: Config, knownHosts: () => ReadonlySet<string>, onIdpFailure?: WebSessionsOptions['onIdpFailure']): Promise<{ web?: WebSessions; store?: SessionStore }> {
  const oidc = config.identity.oidc;
  const session = config.identity.session;
  // Without browser logins the store still holds admin suspensions of token subjects; in
  // Redis when configured, so that every worker and replica sees the same suspensions.
  if (!oidc && session.store.type !== 'redis') return { store: new MemorySessionStore() };
  // No browser sessions are sealed without OIDC: a key of this process's own does when none is configured.
  const sealer = new Sealer(session.keys ?? [randomBytes(32).toString('base64url')]);
  let store: SessionStore;
  if (session.store.type === 'redis') {
    try {
      store = await RedisSessionStore.connect(session.store.url!, sealer, session.store.prefix, durationMs(session.store.connect_timeout), { commandTimeoutMs: durationMs(session.store.command_timeout) });
    } catch (e) {
      throw new VerdictError('STORE_UNAVAILABLE', 'cannot reach the session store', {
        cause: e,
        problems: [{ file: config.file ?? '(built-in defaults)', pointer: '/identity/session/store/url', message: `cannot connect to Redis (STORE_UNAVAILABLE): ${(e as Error).message}` }],
      });
    }
  } else {
    store = new MemorySessionStore();
  }
  if (!oidc) return { store };
  const web = new WebSessions({ oidc, session, sealer, store, client: new OidcClient(oidc), knownHosts, onIdpFailure });
  return { web, store };
}

function tailnetFromConfig(config: Config): TailnetWhois | undefined {
  const t = config.tailnet;
  if (!t) return undefined;
  const listeners = compileTrustedProxies(t.listener_addresses);
  return new TailnetWhois({
    socketPath: t.localapi_socket,
    isTailnetListener: typeof listeners === 'function' ? listeners : () => false,
    cacheTtlMs: durationMs(t.cache_ttl),
    timeoutMs: durationMs(t.timeout),
  });
}

/**
 * Failed requests to the login IdP: counted, and logged at most once per 10 s per kind of
 * failure (an IdP outage touches every session, and each retries), with the last detail.
 */
function idpFailureReporter(log: Logger, metrics: Metrics): NonNullable<WebSessionsOptions['onIdpFailure']> {
  const last = new Map<string, string>();
  const throttles = new Map<string, Throttle>();
  const messages: Record<string, string> = {
    'refresh:unavailable': 'IdP unavailable for claims refresh: sessions keep their last claims up to claims_refresh_grace after the refresh fell due (then end), retried with backoff',
    'refresh:oauth_error': 'IdP refused a claims refresh (OAuth error): those sessions ended',
    'refresh:invalid': 'claims refresh failed our checks (or no refresh token): those sessions ended',
    'callback:unavailable': 'IdP unavailable during login callbacks: browsers got the try-again page (502)',
    'callback:oauth_error': 'IdP refused login code exchanges (OAuth error)',
    'callback:invalid': 'login code exchanges failed our checks',
  };
  return (during, kind, detail) => {
    if (during === 'refresh') metrics.sessionRefreshFailure(kind);
    const key = `${during}:${kind}`;
    last.set(key, detail);
    let t = throttles.get(key);
    if (!t) {
      t = new Throttle(10_000, (count) => log.warn({ count, last_error: last.get(key) }, messages[key]!));
      throttles.set(key, t);
    }
    t.hit();
  };
}

/** The answer when a decision could not be audited: a deny, with an id for the logs. */
function auditFailure(): CheckOutcome {
  return { decisionId: randomUUID(), decision: internalError('audit write failed'), identity: NO_IDENTITY, facts: undefined };
}

/** Settings that weaken a default on purpose: said at every start, in the trail. */
/** Why a listen failed, in words: the errno code and what it usually means. */
function listenErrorText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? /\b(E[A-Z]+)\b/.exec((e as Error).message)?.[1];
  const words: Record<string, string> = {
    EADDRINUSE: 'the port is taken by another process',
    EADDRNOTAVAIL: 'the address is not one of this host\'s (use 0.0.0.0, 127.0.0.1 or an address of this host)',
    EACCES: 'permission denied (ports below 1024 need privileges)',
    ERR_SOCKET_BAD_PORT: 'the port must be 0-65535',
  };
  if (code === undefined) return (e as Error).message;
  return words[code] ? `${code}: ${words[code]}` : code;
}

function startWarnings(config: Config, policy: PolicySet): string[] | undefined {
  const w: string[] = [];
  const identity = noIdentityWarning(config.identity.jwt.length > 0 || config.identity.oidc !== undefined, policy);
  if (identity !== undefined) w.push(identity);
  const domain = config.identity.oidc ? config.identity.session.cookie_domain : undefined;
  if (domain !== undefined) w.push(`identity.session.cookie_domain is ${domain}: sessions are shared by every host under it, and any of them can read or set the session cookie`);
  return w.length > 0 ? w : undefined;
}

function trustedProxies(config: Config): TrustCheck {
  const t = compileTrustedProxies(config.http.trusted_proxies);
  // Config loading has reported bad entries already; this only guards the type.
  return typeof t === 'function' ? t : () => false;
}

export interface RunningVerdict {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly policies: PolicyStore;
  readonly metrics: Metrics;
  /**
   * Health NOT_SERVING, in-flight checks finish (up to the grace period), audit flushed and
   * sealed. Calling it again returns the same stop; `{ force: true }` cuts the drain delay and
   * the grace period short but still writes the shutdown record and seals the audit chain.
   */
  stop(reason?: string, options?: { force?: boolean }): Promise<void>;
  /** Re-reads the policy folder now (SIGHUP, tests). */
  reload(): Promise<ReloadEvent>;
  /** Reopens the audit file at its path (SIGHUP: after logrotate moved it). */
  reopenAudit(): void;
}

export interface StartOptions {
  readonly log: Logger;
  /**
   * Generate and keep an audit signing key beside the trail when none is configured (`verdict
   * serve` does; an embedding or a test that wants its trail files only leaves it off).
   */
  readonly generateAuditKey?: boolean;
  /** Tests may pass their own sink; default from `config.audit`. */
  readonly audit?: AuditSink;
  /** Set in a `serve --workers N` worker: its number, and whether all configured workers serve. */
  readonly worker?: WorkerRole;
}

export interface WorkerRole {
  readonly id: number;
  /** False while fewer workers than configured are serving: `/readyz` answers 503. */
  readonly allServing: () => boolean;
  /** Set when this worker replaces one that died: written to its chain as `worker-restarted`. */
  readonly restartOf?: { readonly exitCode: number | null; readonly signal: string | null; readonly restarts: number };
  /** `/metrics` across every worker (asked of the primary). */
  readonly clusterMetrics: () => Promise<string>;
  /** Hands this worker's registry to the primary's aggregation. */
  readonly register: (registry: Registry) => void;
}

/**
 * The composition root: config → policy → identity → servers. Throws (with
 * file:pointer problems) before binding anything if a policy is invalid.
 */
export async function startVerdict(config: Config, options: StartOptions): Promise<RunningVerdict> {
  const { log } = options;
  const policySet = loadPolicyDir(config.policies.dir, settingOrigin(config, '/policies/dir'));
  const empty = config.policies.allow_empty ? undefined : emptyPolicyProblem(config.policies.dir, policySet);
  if (empty) throw new VerdictError('POLICY_INVALID', 'empty policy', { problems: [empty] });
  const metrics = new Metrics();
  if (options.worker) {
    metrics.render = options.worker.clusterMetrics;
    options.worker.register(metrics.registry);
  }
  const t = config.telemetry.tracing;
  // Off unless configured: then no SDK, no context manager, nothing per decision.
  const tracing = t ? startTracing({ ...t, export_timeout: durationMs(t.export_timeout) }, (n, reason) => metrics.spansDropped(n, reason)) : undefined;
  const auditKey = options.audit ? undefined : await auditKeyFromConfig(config, log, options.generateAuditKey ?? false);
  const audit = options.audit ?? (await auditFromConfig(config, log, metrics, auditKey));
  // While the sink is failed every decision is refused: one log line per interval, not one per request.
  const unrecorded = new Throttle(10_000, (n) => log.error({ count: n }, 'decisions answered without their audit record (denied with 503 unless audit.fail_open): the audit sink is failed'));
  // Control-plane records are not awaited by anyone; a failure is logged, and the sink,
  // now failed, makes the next decisions deny.
  const control = (record: Record<string, unknown>, level: 'info' | 'warn' = 'info'): void =>
    void audit.write(record, level).catch((e: unknown) => log.error({ err: describeError(e), action: record['event.action'] }, 'audit control record not written'));
  const policies = new PolicyStore(config.policies.dir, policySet, { allowEmpty: config.policies.allow_empty });
  const { web, store } = await webSessionsFromConfig(config, () => policies.current.hosts, idpFailureReporter(log, metrics));
  const a = config.identity.assertion;
  const assertion = a ? await AssertionSigner.load({ origin: settingOrigin(config, '/identity/assertion/key_file'), keyFile: a.key_file, issuer: a.issuer, ttlSeconds: Math.floor(durationMs(a.ttl) / 1000), groupsPrefix: a.groups_prefix }) : undefined;
  const identity = identityFromConfig(
    config,
    {
      onJwksFetch: (issuer, outcome, detail) => {
        metrics.jwksFetch(issuer, outcome);
        // Failures are retried with backoff (at most one per jwks_cooldown), so this line is rate-bounded.
        if (outcome === 'error') log.warn({ issuer, err: detail }, 'JWKS fetch failed: keys already held keep verifying up to jwks_max_stale');
      },
      onShed: () => metrics.verificationShed(),
      onCache: (hit) => metrics.tokenCache(hit),
    },
    web,
    store,
  );
  let stopping = false;
  let listening = false;
  const ready = (): boolean => listening && !stopping && audit.healthy() && (store?.healthy() ?? true) && (options.worker?.allServing() ?? true);
  metrics.readiness(ready);

  const deps: CheckDeps = {
    policies,
    identity,
    audit,
    web,
    assertion,
    tailnet: tailnetFromConfig(config),
    observe: (o, transport, seconds) => metrics.observeDecision(o, transport, seconds),
    observeAuditWrite: (seconds) => metrics.observeAuditWrite(seconds),
    options: {
      requireRouteId: config.policies.require_route_id,
      defaultIssuers: defaultIssuers(config),
      includeQuery: config.audit.include_query,
      includeHeaders: config.audit.include_headers,
      redact: config.audit.redact,
      auditFailOpen: config.audit.fail_open,
    },
    tracing,
    onAuditFailure: () => {
      metrics.auditFailure();
      unrecorded.hit();
    },
  };
  const responseOptions = { exposeReasons: config.response.expose_reasons, isOwnCookie: web?.isOwnCookie, metadata: metadataFields(config.response.dynamic_metadata) };
  const xff = { xffTrustedHops: config.request.xff_trusted_hops };

  const grpcServer = new GrpcServer(
    (request, deadline) => {
      // The response checked before the record is written is the one sent, unless the outcome
      // changed after (audit failure): building it once saves a CheckResponse per decision.
      let checked: { outcome: CheckOutcome; response: Record<string, unknown> } | undefined;
      return runCheck(deps, 'grpc', () => factsFromCheckRequest(request, xff), deadline, {
        checkAnswer: (o) => {
          const response = checkResponse(o, responseOptions);
          checkHeaders(checkResponseHeaders(response));
          checked = { outcome: o, response };
        },
      }).then((outcome) => {
        // Past the deadline grpc-js drops the answer and the caller sees DEADLINE_EXCEEDED.
        if (deadline !== undefined && Date.now() > deadline) metrics.lateAnswer('grpc');
        return checked && sameOutcome(checked.outcome, outcome) ? checked.response : checkResponse(outcome, responseOptions);
      });
    },
    (e) => {
      // Reached only when the audit sink refused the record: deny, and say so loudly.
      log.error({ err: describeError(e) }, 'check failed before its audit record was written; denying');
      return checkResponse(auditFailure(), responseOptions);
    },
    { maxMessageBytes: config.grpc.max_message_bytes, maxConcurrentStreams: config.grpc.max_concurrent_streams, maxSessionMemoryMb: config.grpc.max_session_memory_mb },
    answerSent,
  );
  const trusted = trustedProxies(config);
  const httpCheckTimeoutMs = durationMs(config.http.check_timeout);
  const httpServer = new HttpServer(
    {
      ready,
      jwks: () => assertion?.jwks,
      browserPaths: new Set(config.identity.oidc ? [config.identity.oidc.login_path, config.identity.oidc.callback_path, config.identity.oidc.logout_path] : []),
      admin: (req, res) =>
        handleAdmin(req, res, { store, audit, tokens: config.admin.tokens.map((t) => ({ name: t.name, token: t.token! })), defaultIssuer: config.identity.oidc?.issuer ?? config.identity.jwt[0]?.issuer }),
      async authorize(mode, req) {
        try {
          const from = mode === 'envoy' ? factsFromEnvoyHttp : mode === 'direct' ? factsFromDirect : factsFromForwardAuth;
          const build = () => from(req, { trusted });
          const loginRedirect = !(mode === 'forward-auth' && /[?&]login=status(&|$)/.test(req.url));
          const checkAnswer = (o: CheckOutcome): void => checkHeaders(httpAnswer(o, responseOptions, mode === 'envoy').headers);
          // HTTP callers send no deadline: the configured bound stands in, so a stalled store or
          // JWKS is answered 503 in time rather than holding the request for the whole stall.
          const answer = httpAnswer(await runCheck(deps, 'http', build, Date.now() + httpCheckTimeoutMs, { loginRedirect, checkAnswer }), responseOptions, mode === 'envoy');
          answerSent();
          return answer;
        } catch (e) {
          log.error({ err: describeError(e) }, 'check failed before its audit record was written; denying');
          return httpAnswer(auditFailure(), responseOptions);
        }
      },
    },
    metrics,
  );

  const onReload = (event: ReloadEvent): void => {
    const now = Date.now();
    if (event.ok) {
      metrics.reload('accepted');
      control(controlRecord('policy-reload', now, {
        'verdict.policy_hash': event.policy.hash,
        'verdict.previous_policy_hash': event.previous.hash,
        'verdict.policy_files': event.policy.files,
        'verdict.routes_added': event.diff.added,
        'verdict.routes_removed': event.diff.removed,
        'verdict.routes_changed': event.diff.changed,
      }));
      log.info({ hash: event.policy.hash, ...event.diff }, 'policy reload accepted');
    } else {
      metrics.reload('rejected');
      control(controlRecord('policy-reload-rejected', now, {
        'verdict.policy_hash': event.kept.hash,
        'verdict.problems': event.problems.map((p) => `${p.file}:${p.pointer}: ${p.message}`),
      }), 'warn');
      log.warn({ problems: event.problems }, 'policy reload rejected; previous policy stays in force');
    }
  };

  const grpcAddr = splitListen(config.grpc.listen);
  const httpAddr = splitListen(config.http.listen);
  const where = config.file ?? '(built-in defaults)';
  const listenFailed = (pointer: string, address: string, e: unknown) =>
    new VerdictError('LISTEN_FAILED', `cannot listen on ${address}`, {
      cause: e,
      // Named by the setting that chose the address: the config file's key, or the environment variable that overrode it.
      problems: [{ ...settingOrigin(config, pointer), message: `cannot listen on ${address}: ${listenErrorText(e)}` }],
    });
  const tls = config.grpc.tls;
  let credentials;
  try {
    credentials = serverCredentials(tls && { certFile: tls.cert_file, keyFile: tls.key_file, clientCaFile: tls.client_ca_file });
  } catch (e) {
    throw new VerdictError('CONFIG_INVALID', 'bad gRPC TLS files', {
      cause: e,
      problems: [{ file: where, pointer: '/grpc/tls', message: `cannot load the TLS certificate, key or client CA: ${(e as Error).message}` }],
    });
  }
  let grpcPort: number;
  try {
    grpcPort = await grpcServer.listen(config.grpc.listen, credentials);
  } catch (e) {
    throw listenFailed('/grpc/listen', config.grpc.listen, e);
  }
  let httpPort: number;
  try {
    httpPort = await httpServer.listen(httpAddr.host, httpAddr.port);
  } catch (e) {
    grpcServer.server.forceShutdown();
    throw listenFailed('/http/listen', config.http.listen, e);
  }
  if (config.policies.watch) policies.watch(durationMs(config.policies.reload_debounce), onReload);
  listening = true;
  grpcServer.setServing(true);
  // Awaited: the start record is in the trail before anyone is told the server is serving,
  // so a stop right after `verdict serving` always finds it there to seal.
  const warnings = startWarnings(config, policySet);
  await audit.write(controlRecord('start', Date.now(), {
    'verdict.policy_hash': policySet.hash,
    'verdict.policy_files': policySet.files,
    'verdict.routes': policySet.routes.map((r) => r.id),
    'verdict.config_file': config.file,
    'verdict.worker': options.worker?.id,
    'verdict.grpc_address': `${grpcAddr.host}:${grpcPort}`,
    'verdict.http_address': `${httpAddr.host}:${httpPort}`,
    'verdict.jwt_issuers': config.identity.jwt.map((j) => j.issuer),
    // Key ids (thumbprints, never keys): a rotation shows as a change between starts.
    'verdict.session_key_ids': web?.keyIds,
    'verdict.assertion_key_id': assertion?.kid,
    // The public key that verifies this run's checkpoints (`audit verify --key`); keep a copy
    // outside the trail: whoever rewrites the trail can rewrite this record too.
    'verdict.audit_key_id': auditKey?.kid,
    'verdict.audit_public_key': auditKey?.publicPem,
    'verdict.audit_key_generated': auditKey?.generated || undefined,
    'verdict.audit_mode': config.audit.mode ?? (config.audit.sink === 'file' ? 'sync' : 'async'),
    // Which request headers decision records carry (replay tells an absent header from an unrecorded one).
    'verdict.audit_headers': config.audit.include_headers,
    'verdict.warnings': warnings,
    'verdict.audit_durability': config.audit.sink === 'file' ? (config.audit.durability ?? ((config.audit.mode ?? 'sync') === 'sync' ? 'disk' : 'os')) : 'os',
  })).catch((e: unknown) => log.error({ err: describeError(e) }, 'audit record not written'));
  const restartOf = options.worker?.restartOf;
  if (restartOf) {
    // Written by the restarted worker into its own chain (the primary keeps no chain).
    control(controlRecord('worker-restarted', Date.now(), {
      'verdict.worker': options.worker!.id,
      'verdict.worker_exit_code': restartOf.exitCode ?? undefined,
      'verdict.worker_exit_signal': restartOf.signal ?? undefined,
      'verdict.worker_restarts': restartOf.restarts,
      'verdict.recorded_by': 'restarted-worker',
    }), 'warn');
  }
  for (const warning of warnings ?? []) log.warn({ worker: options.worker?.id }, warning);
  log.info({ worker: options.worker?.id, grpc: `${grpcAddr.host}:${grpcPort}`, http: `${httpAddr.host}:${httpPort}`, routes: policySet.routes.length, policy_hash: policySet.hash }, 'verdict serving');

  let stopped: Promise<void> | undefined;
  let isForced = false;
  let forceStop!: () => void;
  const forced = new Promise<void>((resolve) => (forceStop = () => {
    isForced = true;
    resolve();
  }));
  const waitOrForced = async (ms: number): Promise<void> => {
    if (ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((r) => (timer = setTimeout(r, ms))), forced]);
    clearTimeout(timer);
  };
  return {
    grpcPort,
    httpPort,
    policies,
    metrics,
    async reload() {
      const event = await policies.reload();
      onReload(event);
      return event;
    },
    reopenAudit() {
      audit.reopen?.();
    },
    stop(reason = 'stop', { force = false } = {}) {
      if (force) forceStop();
      stopped ??= (async () => {
        stopping = true;
        grpcServer.setServing(false);
        policies.close();
        // Envoy keeps sending checks until its health checks see NOT_SERVING; keep answering meanwhile.
        await waitOrForced(durationMs(config.shutdown.drain_delay));
        const grace = durationMs(config.shutdown.grace_period);
        await Promise.race([grpcServer.shutdown(grace), forced.then(() => grpcServer.server.forceShutdown())]);
        await Promise.race([httpServer.close(grace), forced.then(() => httpServer.closeAll())]);
        // Even a forced stop records itself and seals the chain: `audit verify` finds it intact.
        control(controlRecord('shutdown', Date.now(), { 'verdict.policy_hash': policies.current.hash, 'verdict.shutdown_reason': reason, 'verdict.shutdown_forced': isForced || undefined }));
        await store?.close();
        await audit.close();
        // What is queued goes out now, but a collector that is away does not hold the stop up.
        if (tracing) await untilOrAfter(tracing.shutdown(), 2000);
        unrecorded.flush();
        log.info({ reason, forced: isForced }, 'verdict stopped');
      })();
      return stopped;
    },
  };
}
