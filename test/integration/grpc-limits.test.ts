import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS } from '../../src/envoy/protos.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { tempDir } from '../helpers/tmp.js';
import { hasTool } from '../helpers/tools.js';

const POLICY = { version: 1, routes: [{ id: 'public', match: { hosts: ['status.example.com'] }, allow: { accept: true } }] };

type Unary = (req: unknown, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: { status?: { code?: number } }) => void) => void;

function clientWith(port: number, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): grpc.Client & { Check: Unary } {
  const def = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', { ...PROTO_LOADER_OPTIONS, enums: Number });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } } };
  return new pkg.envoy.service.auth.v3.Authorization(`localhost:${port}`, credentials, options) as unknown as grpc.Client & { Check: Unary };
}

const call = (c: grpc.Client & { Check: Unary }, req: unknown) =>
  new Promise<{ err: grpc.ServiceError | null; code: number | undefined }>((resolve) => c.Check(req, { deadline: Date.now() + 5000 }, (err, res) => resolve({ err, code: res?.status?.code })));

describe('gRPC port limits', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ 'p.json': POLICY }, { grpc: { listen: '127.0.0.1:0', max_message_bytes: 65536 } });
  });
  after(() => t.app.stop());

  it('refuses a message over grpc.max_message_bytes with RESOURCE_EXHAUSTED and keeps serving', async () => {
    const big = envoyCheckRequest({ host: 'status.example.com', headers: { 'x-padding': 'a'.repeat(3_600_000) } });
    const c = clientWith(t.app.grpcPort, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
    const r = await call(c, big);
    assert.equal(r.err?.code, grpc.status.RESOURCE_EXHAUSTED, String(r.err));
    c.close();
    const ok = authClient(t.app.grpcPort);
    const res = await ok.check(envoyCheckRequest({ host: 'status.example.com' }));
    assert.equal(res.status?.code ?? 0, 0);
    ok.close();
  });
});

describe('gRPC with mutual TLS (grpc.tls.client_ca_file)', () => {
  let t: TestApp | undefined;
  let pki: ReturnType<typeof tempDir>;
  const pem = (name: string) => readFileSync(join(pki.dir, name));

  before(async () => {
    if (!hasTool('/usr/bin/openssl', 'apt-get install openssl')) return;
    pki = tempDir();
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=test envoy CA', '-days', '1');
    for (const [name, ext] of [['server', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], ['envoy', 'extendedKeyUsage=clientAuth'], ['other', 'extendedKeyUsage=clientAuth']] as const) {
      ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
      // `other` is signed by a CA of its own: a certificate Verdict does not trust.
      if (name === 'other') ssl('req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-subj', '/CN=other CA', '-days', '1');
      const ca = name === 'other' ? 'other-ca' : 'ca';
      const extfile = pki.write(`${name}.ext`, `${ext}\n`);
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', extfile);
    }
    t = await startTestApp({ 'p.json': POLICY }, { grpc: { listen: '127.0.0.1:0', tls: { cert_file: join(pki.dir, 'server.pem'), key_file: join(pki.dir, 'server.key'), client_ca_file: join(pki.dir, 'ca.pem') } } });
  });
  after(() => t?.app.stop());

  it('answers a client with a certificate from the configured CA, and no other', async (ctx) => {
    if (!t) return ctx.skip('openssl is missing: apt-get install openssl');
    const trusted = clientWith(t.app.grpcPort, grpc.credentials.createSsl(pem('ca.pem'), pem('envoy.key'), pem('envoy.pem')));
    const ok = await call(trusted, envoyCheckRequest({ host: 'status.example.com' }));
    assert.equal(ok.err, null, String(ok.err));
    assert.equal(ok.code ?? 0, 0);
    trusted.close();
    for (const creds of [grpc.credentials.createSsl(pem('ca.pem')), grpc.credentials.createSsl(pem('ca.pem'), pem('other.key'), pem('other.pem'))]) {
      const c = clientWith(t.app.grpcPort, creds);
      const r = await call(c, envoyCheckRequest({ host: 'status.example.com' }));
      assert.equal(r.err?.code, grpc.status.UNAVAILABLE, String(r.err));
      c.close();
    }
    const plain = clientWith(t.app.grpcPort, grpc.credentials.createInsecure());
    assert.notEqual((await call(plain, envoyCheckRequest({ host: 'status.example.com' }))).err, null);
    plain.close();
  });
});
