import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/load-config.js';
import { VerdictError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/tmp.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VerdictError);
    return e.problems.map((p) => `${p.file}:${p.pointer}: ${p.message}`);
  }
  assert.fail('expected a refusal');
}

describe('config', () => {
  it('has documented defaults without a file', () => {
    const c = loadConfig(undefined, {}, '/srv/verdict');
    assert.equal(c.grpc.listen, '0.0.0.0:9191');
    assert.equal(c.http.listen, '0.0.0.0:9292');
    assert.deepEqual(c.http.trusted_proxies, []);
    assert.equal(c.policies.dir, '/srv/verdict/policies');
    assert.equal(c.policies.require_route_id, false);
    assert.equal(c.audit.sink, 'stdout');
    assert.equal(c.audit.include_query, false);
    assert.deepEqual(c.identity.jwt, []);
    assert.equal(c.response.expose_reasons, true);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.grpc));
  });

  it('resolves relative paths against the config file and fills issuer defaults', () => {
    const t = tempDir();
    const file = t.write('conf/verdict.json', {
      policies: { dir: '../pol' },
      audit: { sink: 'file', path: 'logs/audit.jsonl' },
      identity: { jwt: [{ issuer: 'https://idp', jwks_uri: 'https://idp/jwks', audiences: ['verdict'] }] },
    });
    const c = loadConfig(file, {}, '/elsewhere');
    assert.equal(c.policies.dir, join(t.dir, 'pol'));
    assert.equal(c.audit.path, join(t.dir, 'conf/logs/audit.jsonl'));
    assert.deepEqual(c.identity.jwt[0]!.algorithms, ['RS256', 'ES256']);
    assert.equal(c.identity.jwt[0]!.groups_claim, 'groups');
  });

  it('lets environment variables override keys, validated like the file', () => {
    const c = loadConfig(undefined, { VERDICT_GRPC_LISTEN: '127.0.0.1:7000', VERDICT_REQUIRE_ROUTE_ID: 'true', VERDICT_POLICIES_DIR: 'p2' }, '/w');
    assert.equal(c.grpc.listen, '127.0.0.1:7000');
    assert.equal(c.policies.require_route_id, true);
    assert.equal(c.policies.dir, '/w/p2');
    assert.deepEqual(problemsOf(() => loadConfig(undefined, { VERDICT_GRPC_LISTEN: 'nonsense' })), ['VERDICT_GRPC_LISTEN:/grpc/listen: "nonsense" is not host:port; write an address and a port, e.g. "0.0.0.0:9191", "127.0.0.1:9191" or "[::]:9191" (port 0 picks a free one)']);
  });

  it('names the environment variable a bad value came from, not the file that never held it', () => {
    const t = tempDir();
    const file = t.write('c.json', { grpc: { listen: '127.0.0.1:1' } });
    assert.deepEqual(problemsOf(() => loadConfig(file, { VERDICT_AUDIT_SINK: 'files' })), ['VERDICT_AUDIT_SINK:/audit/sink: must be one of ["stdout","file"]']);
    assert.match(problemsOf(() => loadConfig(file, { VERDICT_SESSION_KEYS: 'short' }))[0]!, /^VERDICT_SESSION_KEYS:\/identity\/session\/keys\/0: not a session key: 32 random bytes/);
    assert.doesNotMatch(problemsOf(() => loadConfig(file, { VERDICT_SESSION_KEYS: 'secret-value' }))[0]!, /secret-value/, 'a secret is never echoed');
    assert.deepEqual(problemsOf(() => loadConfig(file, { VERDICT_ADMIN_TOKEN: 'short' })), ['VERDICT_ADMIN_TOKEN:/admin/tokens/0/token: must NOT have fewer than 16 characters']);
    // The file's own mistakes keep the file's name.
    assert.match(problemsOf(() => loadConfig(t.write('d.json', { grpc: { listen: 'x' } }), { VERDICT_AUDIT_SINK: 'file', VERDICT_AUDIT_PATH: 'a.jsonl' }))[0]!, /^.*d\.json:\/grpc\/listen: /);
  });

  it('refuses unknown keys, wrong types, HMAC algorithms and a file sink without a path', () => {
    const t = tempDir();
    const bad = (doc: unknown) => problemsOf(() => loadConfig(t.write(`c${Math.random()}.json`, doc), {}));
    assert.match(bad({ grpc: { listen: '127.0.0.1:1', extra: 1 } })[0]!, /:\/grpc\/extra: unknown key "extra" \(allowed here: listen, max_message_bytes, /);
    assert.match(bad({ grpc: { listn: '127.0.0.1:1' } })[0]!, /:\/grpc\/listn: unknown key "listn"; did you mean "listen"\?/);
    assert.match(bad({ shutdown: { grace_period: '10' } })[0]!, /:\/shutdown\/grace_period: "10" is not a duration; write <number><unit> parts/);
    assert.match(bad({ policies: { require_route_id: 'yes' } })[0]!, /:\/policies\/require_route_id: must be boolean$/);
    assert.match(bad({ identity: { jwt: [{ issuer: 'i', jwks_uri: 'https://i/j', audiences: ['a'], algorithms: ['HS256'] }] } })[0]!, /:\/identity\/jwt\/0\/algorithms\/0: must be one of/);
    assert.match(bad({ identity: { jwt: [{ issuer: 'i', jwks_uri: 'https://i/j', audiences: ['a'], algorithms: ['none'] }] } })[0]!, /must be one of/);
    assert.match(bad({ identity: { jwt: [{ issuer: 'i', jwks_uri: 'https://i/j' }] } })[0]!, /:\/identity\/jwt\/0: missing required key "audiences"$/);
    assert.match(bad({ audit: { sink: 'file' } })[0]!, /:\/audit: missing required key "path"$/);
    assert.match(bad([])[0]!, /: must be an object$/);
    assert.match(problemsOf(() => loadConfig(t.write('broken.json', '{'), {}))[0]!, /broken\.json:: not valid JSON/);
    assert.match(problemsOf(() => loadConfig(join(t.dir, 'missing.json'), {}))[0]!, /missing\.json:: cannot read: ENOENT/);
  });

  it('refuses a session cookie that is not host-only unless cookie_domain says why', () => {
    const t = tempDir();
    const with_ = (session: Record<string, unknown>) => t.write(`v${Math.random()}.json`, { identity: { session: { keys: ['a'.repeat(43)], ...session } } });
    assert.deepEqual(problemsOf(() => loadConfig(with_({ cookie_name: 'verdict_session' }), {})).map((p) => p.split(': ')[0]!.split(':')[1]), ['/identity/session/cookie_name']);
    assert.match(problemsOf(() => loadConfig(with_({ cookie_name: '__Host-s', cookie_domain: 'example.com' }), {}))[0]!, /__Secure-/);
    assert.match(problemsOf(() => loadConfig(with_({ cookie_name: 'plain', cookie_domain: 'example.com' }), {}))[0]!, /\/identity\/session\/cookie_name: .*__Secure-/);
    assert.match(problemsOf(() => loadConfig(with_({ cookie_name: '__Secure-s', cookie_domain: '.example.com' }), {}))[0]!, /\/identity\/session\/cookie_domain/);
    assert.equal(loadConfig(with_({ cookie_name: '__Secure-s', cookie_domain: 'example.com' }), {}).identity.session.cookie_domain, 'example.com');
  });

  it('bounds gRPC messages and streams by default and resolves TLS files against the config', () => {
    const d = loadConfig(undefined, {}, '/srv');
    assert.equal(d.grpc.max_message_bytes, 262144);
    assert.equal(d.grpc.max_concurrent_streams, 1000);
    assert.equal(d.grpc.tls, undefined);
    const t = tempDir();
    const c = loadConfig(t.write('v.json', { grpc: { tls: { cert_file: 'tls/c.pem', key_file: 'tls/k.pem', client_ca_file: 'tls/ca.pem' } } }), {});
    assert.equal(c.grpc.tls?.client_ca_file, join(t.dir, 'tls/ca.pem'));
    assert.match(problemsOf(() => loadConfig(t.write('w.json', { grpc: { max_message_bytes: 4 * 1024 * 1024 * 1024 } }), {}))[0]!, /\/grpc\/max_message_bytes/);
    assert.match(problemsOf(() => loadConfig(t.write('x.json', { grpc: { tls: { cert_file: 'c.pem' } } }), {}))[0]!, /\/grpc\/tls/);
  });
});
