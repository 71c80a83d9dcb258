import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { VerdictError, describeFsError, type Problem, type SettingOrigin } from '../errors.js';
import { displayName } from '../policy-store/read-policy-dir.js';
import { compileTrustedProxies } from '../request/trusted-proxies.js';
import { compileSchema } from '../schema-validator.js';
import type { Config } from './config.js';
import { applyEnv, ENV_OVERRIDES } from './env.js';
import { configSchema } from './schema.js';

const checkConfig = compileSchema(configSchema(), { useDefaults: true });

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

function readSecretFile(path: string, name: string, pointer: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new VerdictError('CONFIG_INVALID', 'a secret file cannot be read', { problems: [{ file: name, pointer, message: `cannot read ${path}: ${describeFsError(e, 'file')}` }] });
  }
}

const SESSION_KEY = /^[A-Za-z0-9_-]{43}$/;

/**
 * Secrets may live inline, in files (`*_file`) or in the environment; the file wins over
 * nothing, inline/env win over the file. With OIDC on, session keys are required.
 */
function loadSecrets(identity: { oidc?: { client_secret?: string; client_secret_file?: string }; session: { keys?: string[]; keys_file?: string } }, name: string, abs: (p: string) => string, required: boolean): void {
  const oidc = identity.oidc;
  if (oidc && oidc.client_secret === undefined && oidc.client_secret_file !== undefined) {
    oidc.client_secret = readSecretFile(abs(oidc.client_secret_file), name, '/identity/oidc/client_secret_file');
  }
  const session = identity.session;
  if (session.keys === undefined && session.keys_file !== undefined) {
    const keys = readSecretFile(abs(session.keys_file), name, '/identity/session/keys_file').split(/\s+/).filter(Boolean);
    const bad = keys.findIndex((k) => !SESSION_KEY.test(k));
    if (keys.length === 0 || bad >= 0) {
      throw new VerdictError('CONFIG_INVALID', 'bad session key file', { problems: [{ file: name, pointer: '/identity/session/keys_file', message: keys.length === 0 ? 'the file holds no key' : `key ${bad + 1} is not 32 bytes of base64url (43 characters)` }] });
    }
    session.keys = keys;
  }
  if (required && oidc && session.keys === undefined) {
    throw new VerdictError('CONFIG_INVALID', 'session keys missing', { problems: [{ file: name, pointer: '/identity/session', message: 'identity.oidc needs session keys: keys, keys_file or VERDICT_SESSION_KEYS (32 random bytes, base64url)' }] });
  }
}

/**
 * Reads, validates and completes the configuration. Fails fast with every problem as
 * `file:pointer: message`; nothing starts on a config that is not valid. Commands that
 * never use the secrets (test, explain, envoy-config) pass `requireSecrets: false`.
 */
/**
 * The session cookie must be `__Host-` (host-only, Secure, Path=/): a cookie that other
 * hosts can set or read is a session-fixation and theft risk. The one reason to give that up,
 * a session shared by the subdomains of `cookie_domain`, has to be stated in the config.
 */
function cookieProblem(s: { cookie_name: string; cookie_domain?: string }): { pointer: string; message: string } | undefined {
  const host = s.cookie_name.startsWith('__Host-');
  if (s.cookie_domain === undefined && !host) {
    return { pointer: '/identity/session/cookie_name', message: 'a session cookie name must start with __Host- (host-only); to share sessions across subdomains set identity.session.cookie_domain and use a __Secure- name' };
  }
  if (s.cookie_domain !== undefined && !s.cookie_name.startsWith('__Secure-')) {
    return { pointer: '/identity/session/cookie_name', message: 'with cookie_domain the session cookie name must start with __Secure- (a __Host- cookie cannot carry a Domain)' };
  }
  return undefined;
}

/**
 * Where a loaded config's setting came from, for a problem found after loading (a folder or key
 * file that cannot be read): its environment variable when one set it, else the config file,
 * else the built-in defaults; with the setting's JSON pointer.
 */
export function settingOrigin(config: Pick<Config, 'file'>, pointer: string, env: NodeJS.ProcessEnv = process.env): SettingOrigin {
  const o = ENV_OVERRIDES.find((x) => `/${x.path.join('/')}` === pointer);
  if (o && env[o.env] !== undefined && env[o.env] !== '') return { file: o.env, pointer };
  return { file: config.file === undefined ? '(built-in defaults)' : displayName(config.file), pointer };
}

export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), options: { requireSecrets?: boolean } = {}): Config {
  const name = file === undefined ? '(built-in defaults)' : displayName(resolve(cwd, file), cwd);
  let doc: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new VerdictError('CONFIG_UNREADABLE', `cannot read config file ${file}`, { detail: (e as Error).message, problems: [{ file: name, pointer: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }] });
    }
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new VerdictError('CONFIG_UNREADABLE', `config file ${file} is not valid JSON`, { problems: [{ file: name, pointer: '', message: `not valid JSON: ${(e as Error).message}` }] });
    }
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new VerdictError('CONFIG_INVALID', 'config must be a JSON object', { problems: [{ file: name, pointer: '', message: 'must be an object' }] });
  }
  const applied = applyEnv(doc as Record<string, unknown>, env);
  // A bad value that came from an environment variable is reported under the variable's name:
  // the config file (or the built-in defaults) never held it.
  const tokens = (doc as { admin?: { tokens?: unknown } }).admin?.tokens;
  const envToken = applied.includes('VERDICT_ADMIN_TOKEN') && Array.isArray(tokens) ? `/admin/tokens/${tokens.length - 1}` : undefined;
  const source = (pointer: string): string => {
    if (envToken !== undefined && (pointer === envToken || pointer.startsWith(`${envToken}/`))) return 'VERDICT_ADMIN_TOKEN';
    const o = ENV_OVERRIDES.find((x) => applied.includes(x.env) && (pointer === `/${x.path.join('/')}` || pointer.startsWith(`/${x.path.join('/')}/`)));
    return o?.env ?? name;
  };
  const problems: Problem[] = checkConfig(doc).map((p) => ({ file: source(p.pointer), ...p }));
  if (problems.length === 0) {
    const trust = compileTrustedProxies((doc as { http: { trusted_proxies: string[] } }).http.trusted_proxies);
    if (typeof trust !== 'function') problems.push({ file: name, pointer: `/http/trusted_proxies/${trust.index}`, message: trust.message });
    const tailnet = (doc as { tailnet?: { listener_addresses: string[] } }).tailnet;
    const listeners = tailnet ? compileTrustedProxies(tailnet.listener_addresses) : undefined;
    if (listeners && typeof listeners !== 'function') problems.push({ file: name, pointer: `/tailnet/listener_addresses/${listeners.index}`, message: listeners.message });
    const problem = cookieProblem((doc as { identity: { session: { cookie_name: string; cookie_domain?: string } } }).identity.session);
    if (problem) problems.push({ file: name, ...problem });
  }
  if (problems.length > 0) throw new VerdictError('CONFIG_INVALID', 'invalid configuration', { problems });

  const c = doc as Omit<Config, 'file'> & { policies: { dir: string }; audit: { path?: string }; identity: { oidc?: { client_secret?: string; client_secret_file?: string }; session: { keys?: string[]; keys_file?: string } } };
  // Relative paths in a file are relative to the file; from env or defaults, to the working directory.
  const base = file !== undefined ? dirname(resolve(cwd, file)) : cwd;
  const abs = (p: string, fromEnv: boolean) => (isAbsolute(p) ? p : resolve(fromEnv ? cwd : base, p));
  c.policies.dir = abs(c.policies.dir, env.VERDICT_POLICIES_DIR !== undefined && env.VERDICT_POLICIES_DIR !== '');
  if (c.audit.path !== undefined) c.audit.path = abs(c.audit.path, env.VERDICT_AUDIT_PATH !== undefined && env.VERDICT_AUDIT_PATH !== '');
  const auditKey = (c.audit as { signing_key_file?: string }).signing_key_file;
  if (auditKey !== undefined) (c.audit as { signing_key_file?: string }).signing_key_file = abs(auditKey, false);
  loadSecrets(c.identity, name, (p) => abs(p, false), options.requireSecrets ?? true);
  const tls = (c.grpc as { tls?: { cert_file: string; key_file: string; client_ca_file?: string } }).tls;
  if (tls) {
    tls.cert_file = abs(tls.cert_file, false);
    tls.key_file = abs(tls.key_file, false);
    if (tls.client_ca_file !== undefined) tls.client_ca_file = abs(tls.client_ca_file, false);
  }
  const assertion = (c.identity as { assertion?: { key_file: string } }).assertion;
  if (assertion) assertion.key_file = abs(assertion.key_file, false);
  const admin = (c as unknown as { admin: { tokens: { name: string; token?: string; token_file?: string }[] } }).admin;
  admin.tokens.forEach((t, i) => {
    if (t.token === undefined && t.token_file !== undefined) t.token = readSecretFile(abs(t.token_file, false), name, `/admin/tokens/${i}/token_file`);
    if (t.token === undefined || t.token.length < 16) {
      throw new VerdictError('CONFIG_INVALID', 'bad admin token', { problems: [{ file: name, pointer: `/admin/tokens/${i}`, message: 'needs token or token_file with at least 16 characters' }] });
    }
  });
  return deepFreeze({ file: file === undefined ? undefined : resolve(cwd, file), ...c } as Config);
}
