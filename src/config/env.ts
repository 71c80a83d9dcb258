/**
 * Environment variables that override config keys (documented in the README). Values
 * are applied before validation, so a bad value is reported like a bad file entry.
 */
export const ENV_OVERRIDES: readonly { env: string; path: readonly string[]; type: 'string' | 'boolean' | 'integer' | 'list' }[] = [
  { env: 'VERDICT_GRPC_LISTEN', path: ['grpc', 'listen'], type: 'string' },
  { env: 'VERDICT_HTTP_LISTEN', path: ['http', 'listen'], type: 'string' },
  { env: 'VERDICT_POLICIES_DIR', path: ['policies', 'dir'], type: 'string' },
  { env: 'VERDICT_REQUIRE_ROUTE_ID', path: ['policies', 'require_route_id'], type: 'boolean' },
  { env: 'VERDICT_AUDIT_SINK', path: ['audit', 'sink'], type: 'string' },
  { env: 'VERDICT_AUDIT_PATH', path: ['audit', 'path'], type: 'string' },
  { env: 'VERDICT_AUDIT_MODE', path: ['audit', 'mode'], type: 'string' },
  { env: 'VERDICT_LOG_LEVEL', path: ['log', 'level'], type: 'string' },
  { env: 'VERDICT_OIDC_CLIENT_SECRET', path: ['identity', 'oidc', 'client_secret'], type: 'string' },
  { env: 'VERDICT_SESSION_KEYS', path: ['identity', 'session', 'keys'], type: 'list' },
  { env: 'VERDICT_SESSION_REDIS_URL', path: ['identity', 'session', 'store', 'url'], type: 'string' },
];

function coerce(value: string, type: 'string' | 'boolean' | 'integer' | 'list'): unknown {
  if (type === 'list') return value.split(',').map((v) => v.trim()).filter(Boolean);
  if (type === 'boolean') return value === 'true' ? true : value === 'false' ? false : value;
  if (type === 'integer') return /^-?\d+$/.test(value) ? Number(value) : value;
  return value;
}

/** Returns the names of the variables that were applied, for the start record. */
export function applyEnv(doc: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const applied: string[] = [];
  // VERDICT_ADMIN_TOKEN adds an admin token named "env" (a list entry, not a plain key).
  if (env.VERDICT_ADMIN_TOKEN) {
    const admin = (doc.admin ??= {}) as Record<string, unknown>;
    const tokens = (admin.tokens ??= []) as unknown[];
    if (Array.isArray(tokens)) tokens.push({ name: 'env', token: env.VERDICT_ADMIN_TOKEN });
    applied.push('VERDICT_ADMIN_TOKEN');
  }
  for (const o of ENV_OVERRIDES) {
    const raw = env[o.env];
    if (raw === undefined || raw === '') continue;
    let node = doc;
    for (const key of o.path.slice(0, -1)) {
      const next = node[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[o.path[o.path.length - 1]!] = coerce(raw, o.type);
    applied.push(o.env);
  }
  return applied;
}
