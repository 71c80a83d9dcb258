// Recorded values reach an operator's terminal through the CLI's text reports. A client that
// talks to the gRPC port directly can put raw ESC sequences into a recorded path, and an IdP
// subject can hold them too: `explain --format text`, `audit query --format table|csv` and
// `audit summary` print them as `?`, never as the bytes a terminal would act on.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_POLICY, startTestApp, type TestApp } from '../helpers/app.js';
import { verdictAsyncResult } from '../helpers/cli.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { TestIssuer } from '../helpers/idp.js';

// Control characters a terminal acts on (newline aside): C0, DEL, C1.
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
const TITLE = '\u001b]0;PWNED\u0007';
const RED = '\u001b[31m';

describe('CLI text reports never print control characters from recorded values', () => {
  let t: TestApp;
  let idp: TestIssuer;
  let config = '';
  let trail = '';
  const ids: string[] = [];

  before(async () => {
    idp = await TestIssuer.start(['ES256']);
    t = await startTestApp({ 'p.json': DEMO_POLICY }, { identity: { jwt: [{ issuer: idp.issuer, jwks_uri: idp.jwksUri, audiences: ['verdict'], algorithms: ['ES256'] }] } });
    config = join(t.dir, 'verdict.json');
    trail = t.auditPath;
    const client = authClient(t.app.grpcPort);
    try {
      const token = await idp.token({ sub: `mallory${RED}`, email: `mallory${RED}@example.com`, groups: ['sre'] });
      for (const init of [
        { host: 'grafana.example.com', path: `/a${TITLE}b` },
        { host: 'grafana.example.com', path: '/ok', headers: { authorization: `Bearer ${token}` } },
      ]) {
        const res = await client.check(envoyCheckRequest(init));
        ids.push(res.dynamic_metadata!.fields!.decision_id!.stringValue!);
      }
    } finally {
      client.close();
    }
  });
  after(async () => {
    await t?.app.stop();
    await idp?.close();
  });

  it('the trail holds the values as sent (escaped JSON); every text report shows them as ?', async () => {
    const records = t.records();
    assert.ok(records.some((r) => JSON.stringify(r).includes(JSON.stringify(TITLE).slice(1, -1))), 'the raw path is recorded');
    assert.ok(records.some((r) => r['user.id'] === `mallory${RED}`), 'the subject is recorded');
    const runs = await Promise.all([
      verdictAsyncResult(['explain', '--config', config, '--decision-id', ids[0]!, '--audit', trail, '--format', 'text']),
      verdictAsyncResult(['explain', '--config', config, '--decision-id', ids[1]!, '--audit', trail, '--format', 'text']),
      verdictAsyncResult(['audit', 'query', trail, '--format', 'table']),
      verdictAsyncResult(['audit', 'query', trail, '--format', 'csv']),
      verdictAsyncResult(['audit', 'summary', trail]),
    ]);
    for (const [i, r] of runs.entries()) {
      assert.ok(r.code === 0 || r.code === 1, `run ${i}: ${r.stderr}`);
      assert.doesNotMatch(r.stdout, CONTROL, `run ${i} printed a control character: ${JSON.stringify(r.stdout)}`);
    }
    const [explainPath, explainUser, table, csv, summary] = runs.map((r) => r.stdout);
    assert.match(explainPath!, /request: {2}GET grafana\.example\.com\/a\?\]0;PWNED\?b/);
    assert.match(explainUser!, /mallory\?\[31m/);
    assert.match(table!, /\/a\?\]0;PWNED\?b/);
    assert.match(csv!, /mallory\?\[31m/);
    assert.match(summary!, /mallory\?\[31m/);
  });
});
