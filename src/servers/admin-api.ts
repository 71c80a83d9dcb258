import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditSink } from '../audit/audit-writer.js';
import { controlRecord } from '../audit/record.js';
import { sessionHash } from '../audit/session-hash.js';
import type { SessionStore } from '../session/session-store.js';

export const ADMIN_PREFIX = '/admin/v1/';

export interface AdminDeps {
  readonly store: SessionStore | undefined;
  readonly audit: AuditSink;
  readonly tokens: readonly { readonly name: string; readonly token: string }[];
  /** Issuer assumed when a call names only a subject. */
  readonly defaultIssuer: string | undefined;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The admin a bearer token belongs to. Every token is compared, in constant time. */
function adminFor(authorization: string | undefined, tokens: AdminDeps['tokens']): string | undefined {
  const m = /^Bearer[ \t]+(\S+)$/i.exec(authorization ?? '');
  if (!m) return undefined;
  const given = digest(m[1]!);
  let found: string | undefined;
  for (const t of tokens) if (timingSafeEqual(given, digest(t.token)) && found === undefined) found = t.name;
  return found;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/**
 * The admin API: sessions and suspensions. Every call, reads and refusals included, is an
 * audit record naming the acting admin (`verdict.admin`) and what it touched.
 */
export async function handleAdmin(req: IncomingMessage, res: ServerResponse, deps: AdminDeps): Promise<void> {
  const pending: Promise<void>[] = [];
  let answer: [number, unknown] = [500, { error: 'internal' }];
  try {
    await decide(req, res, deps, pending, (status, body) => {
      answer = [status, body];
    });
  } finally {
    // Every call's record reaches the sink before the answer; without it, no answer but 503.
    const results = await Promise.allSettled(pending);
    if (results.some((r) => r.status === 'rejected')) answer = [503, { error: 'audit_unavailable' }];
    send(res, answer[0], answer[1]);
  }
}

async function decide(req: IncomingMessage, res: ServerResponse, deps: AdminDeps, pending: Promise<void>[], reply: (status: number, body: unknown) => void): Promise<void> {
  const json = (_res: ServerResponse, status: number, body: unknown): void => reply(status, body);
  const url = new URL(req.url ?? '/', 'http://admin.invalid');
  const path = url.pathname.slice(ADMIN_PREFIX.length);
  const method = req.method ?? 'GET';
  const admin = adminFor(req.headers.authorization, deps.tokens);
  const base = { 'http.request.method': method, 'url.path': url.pathname, 'client.address': req.socket.remoteAddress, 'verdict.admin': admin };
  const audit = (action: string, status: number, fields: Record<string, unknown> = {}) =>
    pending.push(deps.audit.write(controlRecord(`admin.${action}`, Date.now(), { ...base, 'http.response.status_code': status, ...fields }), status >= 400 ? 'warn' : 'info'));

  if (deps.tokens.length === 0) {
    audit('refused', 404, { 'verdict.detail': 'no admin token configured' });
    return json(res, 404, { error: 'not_found' });
  }
  if (admin === undefined) {
    audit('refused', 401, { 'verdict.detail': 'missing or unknown admin token' });
    res.setHeader('www-authenticate', 'Bearer realm="verdict-admin"');
    return json(res, 401, { error: 'unauthenticated' });
  }
  const store = deps.store;
  if (!store) {
    audit('refused', 409, { 'verdict.detail': 'browser sessions are not configured' });
    return json(res, 409, { error: 'sessions_not_configured' });
  }
  const issuer = url.searchParams.get('issuer') ?? deps.defaultIssuer;
  const subject = url.searchParams.get('subject');
  const who = { 'verdict.target.issuer': issuer, 'verdict.target.subject': subject ?? undefined };

  try {
    if (path === 'sessions' && (method === 'GET' || method === 'DELETE')) {
      if (!issuer || !subject) {
        audit(method === 'GET' ? 'sessions.list' : 'sessions.revoke_user', 400, { 'verdict.detail': 'issuer and subject are required' });
        return json(res, 400, { error: 'issuer_and_subject_required' });
      }
      const sessions = await store.listUser(issuer, subject);
      if (method === 'GET') {
        audit('sessions.list', 200, { ...who, 'verdict.sessions': sessions.length });
        return json(res, 200, { sessions: sessions.map((s) => ({ id: s.sid, issuer: s.issuer, subject: s.subject, created_at: new Date(s.createdAt).toISOString(), last_seen: new Date(s.lastSeen).toISOString(), expires_at: new Date(s.expiresAt).toISOString() })) });
      }
      for (const s of sessions) await store.delete(s.sid);
      audit('sessions.revoke_user', 200, { ...who, 'verdict.sessions_revoked': sessions.map((s) => sessionHash(s.sid)) });
      return json(res, 200, { revoked: sessions.length });
    }
    const one = /^sessions\/([A-Za-z0-9-]{1,64})$/.exec(path);
    if (one && method === 'DELETE') {
      const record = await store.get(one[1]!);
      const revoked = await store.delete(one[1]!);
      audit('sessions.revoke', revoked ? 200 : 404, { 'verdict.session_hash': sessionHash(one[1]!), 'verdict.target.issuer': record?.issuer, 'verdict.target.subject': record?.subject });
      return json(res, revoked ? 200 : 404, { revoked });
    }
    if ((path === 'users/suspend' || path === 'users/unsuspend') && method === 'POST') {
      const action = path === 'users/suspend' ? 'users.suspend' : 'users.unsuspend';
      if (!issuer || !subject) {
        audit(action, 400, { 'verdict.detail': 'issuer and subject are required' });
        return json(res, 400, { error: 'issuer_and_subject_required' });
      }
      const suspend = action === 'users.suspend';
      await store.setSuspended(issuer, subject, suspend);
      // Suspension ends every session of the user, not only future logins.
      const ended = suspend ? await store.listUser(issuer, subject) : [];
      for (const s of ended) await store.delete(s.sid);
      audit(action, 200, { ...who, 'verdict.sessions_revoked': suspend ? ended.map((s) => sessionHash(s.sid)) : undefined });
      return json(res, 200, { suspended: suspend, revoked: ended.length });
    }
    if (path === 'users/suspended' && method === 'GET') {
      if (!issuer || !subject) {
        audit('users.status', 400, { 'verdict.detail': 'issuer and subject are required' });
        return json(res, 400, { error: 'issuer_and_subject_required' });
      }
      const suspended = await store.isSuspended(issuer, subject);
      audit('users.status', 200, { ...who, 'verdict.suspended': suspended });
      return json(res, 200, { suspended });
    }
    audit('unknown', 404, {});
    return json(res, 404, { error: 'not_found' });
  } catch (e) {
    audit('failed', 503, { 'verdict.detail': (e as Error).message });
    return json(res, 503, { error: 'unavailable' });
  }
}

/** Every admin route, for the test that proves none runs without an audit record. */
export const ADMIN_ROUTES: readonly [string, string][] = [
  ['GET', 'sessions?subject=alice'],
  ['DELETE', 'sessions?subject=alice'],
  ['DELETE', 'sessions/00000000-0000-0000-0000-000000000000'],
  ['POST', 'users/suspend?subject=alice'],
  ['POST', 'users/unsuspend?subject=alice'],
  ['GET', 'users/suspended?subject=alice'],
];
