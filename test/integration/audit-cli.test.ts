import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AuditWriter } from '../../src/audit/audit-writer.js';
import { DEMO_POLICY } from '../helpers/app.js';
import { serveVerdict, verdictAsyncResult } from '../helpers/cli.js';
import { authClient, envoyCheckRequest } from '../helpers/envoy-client.js';
import { tempDir } from '../helpers/tmp.js';

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('audit CLI on the trail of a running server, with the signing key serve generated', () => {
  it('verify --live: intact up to the last checkpoint, open tail reported, exit 0; the key is kept (0600) and named in the start record', async () => {
    const t = tempDir();
    t.write('policies/p.json', DEMO_POLICY);
    const config = t.write('verdict.json', { grpc: { listen: '127.0.0.1:0' }, http: { listen: '127.0.0.1:0' }, audit: { sink: 'file', path: 'trail/audit.jsonl', checkpoint_every: 4 } });
    const trail = join(t.dir, 'trail/audit.jsonl');
    const keyFile = join(t.dir, 'trail/audit-signing-key.pem');
    const pubFile = join(t.dir, 'trail/audit-signing-key.pub.pem');

    const first = await serveVerdict(config, t.dir);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const start = lines(trail).find((r) => r['event.action'] === 'start')!;
    assert.equal(start['verdict.audit_public_key'], readFileSync(pubFile, 'utf8'));
    assert.equal(start['verdict.audit_key_generated'], true);

    const client = authClient(first.port);
    const ids: string[] = [];
    for (const host of ['grafana.example.com', 'status.example.com', 'grafana.example.com', 'status.example.com', 'grafana.example.com']) {
      const res = await client.check(envoyCheckRequest({ host }));
      ids.push(res.dynamic_metadata!.fields!.decision_id!.stringValue!);
    }
    client.close();
    // start + 5 decisions = 6 records; the checkpoint (seq 5) after the 4th: two records are open.
    const [live, strict, byId] = await Promise.all([
      verdictAsyncResult(['audit', 'verify', trail, '--live', '--key', pubFile]),
      verdictAsyncResult(['audit', 'verify', trail]),
      verdictAsyncResult(['audit', 'query', trail, '--decision-id', ids[2]!]),
    ]);
    assert.equal(live.code, 0, live.stdout + live.stderr);
    assert.match(live.stdout, /^intact up to seq 5 \(the last checkpoint\): 5 records, 1 checkpoints, signatures verified\nopen: 2 records, seq 6…7, chained but not sealed yet/);
    assert.equal(strict.code, 1);
    assert.match(strict.stdout, /unsealed tail: .*verify with --live/);
    const found = byId.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(found.map((r) => [r['verdict.decision_id'], r['verdict.decision'], r['verdict.route']]), [[ids[2], 'deny', 'grafana']]);

    first.child.kill('SIGTERM');
    await once(first.child, 'exit');
    const second = await serveVerdict(config, t.dir);
    second.child.kill('SIGTERM');
    await once(second.child, 'exit');
    const starts = lines(trail).filter((r) => r['event.action'] === 'start');
    assert.equal(starts.length, 2);
    assert.equal(starts[1]!['verdict.audit_key_id'], starts[0]!['verdict.audit_key_id'], 'the generated key is kept across restarts');

    const [signed, unsigned] = await Promise.all([verdictAsyncResult(['audit', 'verify', trail, '--key', pubFile]), verdictAsyncResult(['audit', 'verify', trail])]);
    assert.equal(signed.code, 0, signed.stdout);
    assert.match(signed.stdout, /^intact: \d+ records, .* signatures verified$/m);
    assert.equal(unsigned.code, 0);
    assert.match(unsigned.stdout, /unsigned: detects edits, not a full rewrite; pass --key/);
  });
});

describe('audit query and summary: no silent nothing, formats, summary', () => {
  const t = tempDir();
  const trail = join(t.dir, 'audit.jsonl');
  const decision = (time: string, decision: 'allow' | 'deny', route: string, user: string | undefined, reasons: string[], path = '/') => ({
    time,
    'event.action': 'authorize',
    'verdict.decision_id': crypto.randomUUID(),
    'verdict.decision': decision,
    'http.response.status_code': decision === 'allow' ? 200 : 403,
    'verdict.reasons': reasons,
    'verdict.route': route,
    'verdict.auth_method': user ? 'jwt' : 'none',
    'verdict.transport': 'grpc',
    'user.email': user,
    'url.path': path,
  });
  const ready = (async () => {
    const w = new AuditWriter({ sink: 'file', path: trail, mode: 'sync', maxDelayMs: 10, checkpointEvery: 1000, checkpointIntervalMs: 0 });
    await Promise.all([
      w.write(decision('2026-11-30T08:10:00.000Z', 'allow', 'grafana', 'alice@example.com', ['groups-ok'])),
      w.write(decision('2026-11-30T08:20:00.000Z', 'deny', 'grafana', 'bob@example.com', ['groups-unauthorized'], '/a,b "c"')),
      w.write(decision('2026-11-30T09:05:00.000Z', 'deny', 'grafana', 'bob@example.com', ['groups-unauthorized'])),
      w.write(decision('2026-11-30T09:30:00.000Z', 'deny', 'api', undefined, ['authenticated-user-unauthorized'], '=cmd()')),
      w.write(decision('2026-11-30T10:00:00.000Z', 'allow', 'public', undefined, ['accept'])),
    ]);
    await w.close();
  })();

  it('errors, not empty output: no file, unknown decision, reason, format, a malformed decision id', async () => {
    await ready;
    const runs = await Promise.all([
      verdictAsyncResult(['audit', 'query']),
      verdictAsyncResult(['audit', 'query', trail, '--decision', 'denied']),
      verdictAsyncResult(['audit', 'query', trail, '--reason', 'group-unauthorized']),
      verdictAsyncResult(['audit', 'query', trail, '--format', 'xml']),
      verdictAsyncResult(['audit', 'query', trail, '--decision-id', 'abc']),
      verdictAsyncResult(['audit', 'summary']),
    ]);
    for (const r of runs) assert.equal(r.code, 2, r.stderr);
    assert.match(runs[0]!.stderr, /name the audit files/);
    assert.match(runs[1]!.stderr, /--decision "denied" is not one of: allow, deny/);
    assert.match(runs[2]!.stderr, /--reason "group-unauthorized" is not one of: .*groups-unauthorized/);
    assert.match(runs[3]!.stderr, /--format "xml" is not one of: jsonl, csv, table/);
    assert.match(runs[4]!.stderr, /--decision-id "abc" is not a decision id/);
    for (const r of runs) assert.equal(r.stdout, '');
  });

  it('--format table names control-plane records by their action instead of a row of blanks; csv leaves the decision empty', async () => {
    const t = tempDir();
    const file = t.write('trail.jsonl', [
      { time: '2026-11-30T08:00:00.000Z', 'event.action': 'start', seq: 1 },
      { time: '2026-11-30T08:00:01.000Z', 'event.action': 'authorize', 'verdict.decision': 'allow', 'http.response.status_code': 200, 'verdict.route': 'status', seq: 2 },
      { time: '2026-11-30T08:00:02.000Z', 'event.action': 'shutdown', seq: 3 },
    ].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const [table, csv] = await Promise.all([verdictAsyncResult(['audit', 'query', file, '--format', 'table']), verdictAsyncResult(['audit', 'query', file, '--format', 'csv'])]);
    const cells = table.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s{2,}/));
    assert.deepEqual(cells.map((c) => c[1]), ['(start)', 'allow', '(shutdown)']);
    assert.equal(csv.stdout.trim().split('\n')[1], '2026-11-30T08:00:00.000Z,,,,,,,,,,,');
  });

  it('--format csv (quoted, formula-safe) and table; summary per route, user, reason and hour with top denied', async () => {
    await ready;
    const [csv, table, summary, text] = await Promise.all([
      verdictAsyncResult(['audit', 'query', trail, '--decision', 'deny', '--format', 'csv']),
      verdictAsyncResult(['audit', 'query', trail, '--route', 'grafana', '--format', 'table']),
      verdictAsyncResult(['audit', 'summary', trail, '--since', '2026-11-30T08:00:00Z', '--until', '2026-11-30T10:00:00Z', '--format', 'json', '--top', '1']),
      verdictAsyncResult(['audit', 'summary', trail]),
    ]);
    const rows = csv.stdout.trim().split('\n');
    assert.equal(rows[0], 'time,decision_id,decision,status,route,user_id,user_email,reasons,method,host,path,client');
    assert.equal(rows.length, 4);
    assert.match(rows[1]!, /,deny,403,grafana,,bob@example\.com,groups-unauthorized,,,"\/a,b ""c""",$/);
    assert.match(rows[3]!, /,deny,403,api,,,authenticated-user-unauthorized,,,'=cmd\(\),$/);
    const tl = table.stdout.trim().split('\n');
    assert.equal(tl.length, 4);
    assert.match(tl[0]!, /^time\s+decision_id\s+decision\s+status\s+route/);
    assert.equal(tl[1]!.indexOf('grafana'), tl[0]!.indexOf('route'));

    assert.equal(summary.code, 0, summary.stderr);
    const s = JSON.parse(summary.stdout);
    assert.deepEqual(
      { decisions: s.decisions, allowed: s.allowed, denied: s.denied, byRoute: s.byRoute, byHour: s.byHour, topDeniedUsers: s.topDeniedUsers, topDenyReasons: s.topDenyReasons },
      {
        decisions: 4,
        allowed: 1,
        denied: 3,
        byRoute: { api: [0, 1], grafana: [1, 2] },
        byHour: { '2026-11-30T08': [1, 1], '2026-11-30T09': [0, 2] },
        topDeniedUsers: [{ user: 'bob@example.com', denied: 2 }],
        topDenyReasons: [{ reason: 'groups-unauthorized', denied: 2 }],
      },
    );
    assert.deepEqual(s.byUser, { '(anonymous)': [0, 1], 'alice@example.com': [1, 0], 'bob@example.com': [0, 2] });
    assert.match(text.stdout, /^decisions: 5 \(2 allowed, 3 denied\)/);
    assert.match(text.stdout, /top denied users:\n {2}bob@example\.com +2\n {2}\(anonymous\) +1/);
  });
});
