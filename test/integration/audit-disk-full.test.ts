import assert from 'node:assert/strict';
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { startVerdict } from '../../src/app.js';
import { auditRecordSchema } from '../../src/audit/record-schema.js';
import { verifyTrail } from '../../src/audit/verify.js';
import { loadConfig } from '../../src/config/load-config.js';
import { compileSchema } from '../../src/schema-validator.js';
import { DEMO_POLICY } from '../helpers/app.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { tempDir } from '../helpers/tmp.js';
import { fill, smallTmpfs } from '../helpers/tmpfs.js';

type Rec = Record<string, unknown>;
const checkRecord = compileSchema(auditRecordSchema());

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, tries = 250): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

describe('audit trail on a full disk (a real 256 KiB tmpfs)', () => {
  it('fails closed while full, recovers by itself, and every answer agrees with the trail', async (t) => {
    const disk = smallTmpfs(t, 256);
    if (!disk) return;
    const dir = tempDir();
    dir.write('policies/p.json', DEMO_POLICY);
    const auditPath = join(disk, 'audit.jsonl');
    const config = loadConfig(
      dir.write('verdict.json', { grpc: { listen: '127.0.0.1:0' }, http: { listen: '127.0.0.1:0' }, audit: { sink: 'file', path: auditPath, mode: 'sync' } }),
      {},
    );
    const logs: { level: number; msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as { level: number; msg: string }) });
    const app = await startVerdict(config, { log });
    const client = authClient(app.grpcPort);
    const http = (path: string) => fetch(`http://127.0.0.1:${app.httpPort}${path}`);
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await http('/metrics')).text())?.[1]);
    // Every answer the client saw: id → gRPC-level allow or the HTTP status of the deny.
    const answers = new Map<string, number>();
    const check = async () => {
      const res = await client.check(envoyCheckRequest({ host: 'status.example.com' }));
      const id = res.dynamic_metadata?.fields?.decision_id?.stringValue;
      assert.ok(id, 'every answer names its decision');
      const status = res.status?.code ? Number(res.denied_response?.status?.code) : 200;
      answers.set(id, status);
      return status;
    };
    try {
      assert.equal(await check(), 200);
      const filler = fill(disk);
      // The first batch that does not fit fails the sink (a partial last page may still take one record).
      await until('a 503 once the disk is full', async () => ((await check()) === 503 ? true : undefined));
      // Many decisions during the outage: all denied, with one log line, not one per request.
      const during = await Promise.all(Array.from({ length: 200 }, () => check()));
      assert.deepEqual(new Set(during), new Set([503]));
      assert.equal((await http('/readyz')).status, 503);
      assert.equal(await metric('verdict_audit_sink_up'), 0);
      assert.ok((await metric('verdict_audit_failures_total')) >= 200);

      unlinkSync(filler);
      await until('ready again without a restart', async () => ((await http('/readyz')).status === 200 ? true : undefined));
      assert.equal(await check(), 200, 'decisions are answered again');
      assert.equal(await metric('verdict_audit_sink_up'), 1);
      assert.equal(await metric('verdict_audit_sink_failures_total'), 1);
    } finally {
      client.close();
      await app.stop(); // no EBADF, no exit 1: the descriptor in use is the working one
    }

    const errorLines = logs.filter((l) => l.level >= 50);
    assert.ok(errorLines.length <= 4, `errors logged at a bounded rate: ${errorLines.length} lines for ${answers.size} decisions: ${errorLines.map((l) => l.msg).join(' | ')}`);
    assert.ok(logs.some((l) => /audit sink recovered/.test(l.msg)));

    const text = readFileSync(auditPath, 'utf8');
    const records = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);
    for (const r of records) assert.deepEqual(checkRecord(r), [], JSON.stringify(r));
    const recovered = records.filter((r) => r['event.action'] === 'audit.recovered');
    assert.equal(recovered.length, 1);
    const unrecorded = new Set(recovered[0]!['verdict.unrecorded_decision_ids'] as string[]);
    const decided = new Map(records.filter((r) => r['event.action'] === 'authorize').map((r) => [r['verdict.decision_id'] as string, r]));
    for (const [id, status] of answers) {
      const r = decided.get(id);
      if (status === 503) {
        assert.equal(r, undefined, `answered 503 but recorded as ${r?.['verdict.decision']} ${r?.['http.response.status_code']}`);
        assert.ok(unrecorded.has(id), `the 503 answer ${id} is named in audit.recovered`);
      } else {
        assert.equal(r?.['http.response.status_code'], status, `answer ${id} and its record agree`);
      }
    }
    assert.equal(recovered[0]!['verdict.unrecorded'], [...answers.values()].filter((s) => s === 503).length);
    const v = await verifyTrail([{ name: auditPath, text }]);
    assert.equal(v.problem, undefined, JSON.stringify(v.problem));
    assert.deepEqual(readdirSync(disk).sort(), ['audit.jsonl']);
  });
});
