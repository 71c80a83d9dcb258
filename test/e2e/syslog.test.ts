import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { verifyTrail } from '../../src/audit/verify.js';
import { DEMO_POLICY, startTestApp } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { freePort } from '../helpers/nginx.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool, toolPath } from '../helpers/tools.js';

describe('a copy of the audit trail to a real syslog receiver (Debian rsyslog)', () => {
  it('rsyslog receives every record, chain intact', async (t) => {
    if (!requireTool(t, 'rsyslogd')) return;
    const dir = tempDir('verdict-rsyslog-').dir;
    const port = await freePort();
    const out = join(dir, 'remote.log');
    const conf = tempDir().write('rsyslog.conf', `
global(workDirectory="${dir}")
module(load="imtcp")
input(type="imtcp" port="${port}" address="127.0.0.1" ruleset="verdict")
template(name="raw" type="string" string="%msg%\\n")
ruleset(name="verdict") { action(type="omfile" file="${out}" template="raw") }
`);
    const rsyslog = spawn(toolPath('rsyslogd'), ['-n', '-f', conf, '-i', join(dir, 'rsyslog.pid')], { stdio: 'ignore' });
    try {
      await sleep(800);
      const app = await startTestApp({ 'p.json': DEMO_POLICY }, { audit: { sink: 'file', path: 'audit.jsonl', syslog: { address: `127.0.0.1:${port}` } } });
      const client = authClient(app.app.grpcPort);
      for (let i = 0; i < 20; i++) await client.check(envoyCheckRequest({ host: i % 2 ? 'status.example.com' : 'grafana.example.com' }));
      client.close();
      await app.app.stop();
      const local = readFileSync(app.auditPath, 'utf8').trim().split('\n');
      for (let i = 0; i < 50 && !(existsSync(out) && readFileSync(out, 'utf8').trim().split('\n').length >= local.length); i++) await sleep(100);
      const remote = readFileSync(out, 'utf8').trim().split('\n').map((l) => l.trim());
      assert.equal(remote.length, local.length, 'every record reached the receiver');
      assert.deepEqual(remote.map((l) => JSON.parse(l).hash), local.map((l) => JSON.parse(l).hash));
      const v = await verifyTrail([{ name: 'remote.log', text: `${remote.join('\n')}\n` }]);
      assert.equal(v.problem, undefined, 'the remote copy verifies on its own');
    } finally {
      rsyslog.kill('SIGTERM');
    }
  });
});
