// Records examples/policy-review/trail.jsonl (not audit*.jsonl: .gitignore keeps local trails out): a real trail written by Verdict's server
// (gRPC Check calls with JWTs of a test issuer) under examples/policy-review/policies.
// Run it again after changing the example (`node dist/scripts/record-policy-review-example.js`),
// then update expected-replay.txt; test/integration/policy-review-example.test.ts checks both.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startVerdict } from '../src/app.js';
import { loadConfig } from '../src/config/load-config.js';
import { authClient, envoyCheckRequest } from '../test/helpers/envoy-client.js';
import { TestIssuer } from '../test/helpers/idp.js';
import { tempDir } from '../test/helpers/tmp.js';

const EXAMPLE = 'examples/policy-review';
const issuer = await TestIssuer.start(['ES256']);
const t = tempDir();
const file = t.write('verdict.json', {
  grpc: { listen: '127.0.0.1:0' },
  http: { listen: '127.0.0.1:0' },
  policies: { dir: join(process.cwd(), EXAMPLE, 'policies') },
  audit: { sink: 'file', path: 'audit.jsonl' },
  identity: { jwt: [{ issuer: 'https://idp.example.com', jwks_uri: issuer.jwksUri, audiences: ['verdict'] }] },
});
const app = await startVerdict(loadConfig(file, {}), { log: pino({ level: 'silent' }) });
const client = authClient(app.grpcPort);
const token = (sub: string, groups: string[]) => issuer.token({ iss: 'https://idp.example.com', sub, email: `${sub}@example.com`, email_verified: true, groups });
const people = { alice: await token('alice', ['sre']), dave: await token('dave', ['dev']), erin: await token('erin', ['dev']), fay: await token('fay', ['finance']), svc: await token('svc-billing', []) };
const ask = (host: string, who: keyof typeof people | undefined, method = 'GET', path = '/') =>
  client.check(envoyCheckRequest({ host, path, method, headers: who ? { authorization: `Bearer ${people[who]}` } : {} }));
for (let i = 0; i < 2; i++) {
  await ask('grafana.example.com', 'alice', 'GET', '/d/overview');
  await ask('grafana.example.com', 'dave', 'GET', '/d/overview');
  await ask('grafana.example.com', 'erin', 'GET', '/d/latency');
  await ask('grafana.example.com', 'dave', 'DELETE', '/api/dashboards/7');
  await ask('billing.example.com', 'fay', 'GET', '/v1/invoices');
  await ask('billing.example.com', 'svc', 'POST', '/v1/invoices');
  await ask('billing.example.com', 'dave', 'GET', '/v1/invoices');
  await ask('status.example.com', undefined, 'GET', '/');
  await ask('grafana.example.com', undefined, 'GET', '/');
}
client.close();
await app.stop();
await issuer.close();
copyFileSync(join(t.dir, 'audit.jsonl'), join(EXAMPLE, 'trail.jsonl'));
process.stdout.write(`wrote ${EXAMPLE}/trail.jsonl\n`);
