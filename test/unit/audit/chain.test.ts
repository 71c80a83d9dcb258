import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { AuditWriter } from '../../../src/audit/audit-writer.js';
import { recordHash } from '../../../src/audit/chain.js';
import { verifyTrail } from '../../../src/audit/verify.js';
import { tempDir } from '../../helpers/tmp.js';

type Keys = Awaited<ReturnType<typeof generateKeyPair>>;

async function writeTrail(path: string, keys: Keys, n: number, from = 0): Promise<void> {
  const w = new AuditWriter({ sink: 'file', path, mode: 'sync', maxDelayMs: 10, checkpointEvery: 4, checkpointIntervalMs: 0, signingKey: { key: keys.privateKey, kid: 'k1' } });
  await Promise.all(Array.from({ length: n }, (_, i) => w.write({ time: new Date().toISOString(), 'event.action': 'authorize', 'verdict.decision_id': `d${from + i}`, 'verdict.decision': 'allow' })));
  await w.close();
}

const lines = (p: string) => readFileSync(p, 'utf8').split('\n').filter(Boolean);
const put = (p: string, ls: string[]) => writeFileSync(p, ls.map((l) => `${l}\n`).join(''));
const verify = (key: Keys['publicKey'] | undefined, ...files: string[]) => verifyTrail(files.map((f) => ({ name: f, text: readFileSync(f, 'utf8') })), key);

describe('tamper-evident audit trail', () => {
  let keys: Keys;
  before(async () => {
    keys = await generateKeyPair('ES256');
  });

  it('escapes U+0085, U+2028, U+2029, DEL and C1 controls: one record is one line for any line-based tool', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    const nasty = 'a\u0085b\u2028c\u2029d\u0080e\u009fg\u007fh';
    const w = new AuditWriter({ sink: 'file', path: p, mode: 'sync', maxDelayMs: 10, checkpointEvery: 100, checkpointIntervalMs: 0, signingKey: { key: keys.privateKey, kid: 'k1' } });
    await w.write({ time: new Date().toISOString(), 'event.action': 'authorize', 'verdict.decision_id': 'd1', 'user.id': nasty, 'user.roles': [nasty], [`k${nasty}`]: 'x' } as never);
    await w.write({ time: new Date().toISOString(), 'event.action': 'authorize', 'verdict.decision_id': 'd2', 'url.path': '/\u2028' });
    await w.close();
    const text = readFileSync(p, 'utf8');
    assert.doesNotMatch(text, /[\u007f-\u009f\u2028\u2029]/, 'no raw line terminator or C1 control in the file');
    const records = text.split(/\r\n|[\n\r\u0085\u2028\u2029]/).filter(Boolean);
    assert.equal(records.length, 3, 'two records and the closing checkpoint, split the way line-based tools split');
    const first = JSON.parse(records[0]!) as Record<string, unknown>;
    assert.equal(first['user.id'], nasty, 'the value reads back unchanged');
    assert.match(records[0]!, /a\\u0085b\\u2028c\\u2029d\\u0080e\\u009fg\\u007fh/);
    const r = await verify(keys.publicKey, p);
    assert.equal(r.problem, undefined, 'the chain covers the escaped text and verifies');
  });

  it('writes a hash chain with signed checkpoints that verifies, and continues it after a restart', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    await writeTrail(p, keys, 10);
    await writeTrail(p, keys, 5, 10);
    const r = await verify(keys.publicKey, p);
    assert.equal(r.problem, undefined, JSON.stringify(r.problem));
    const ls = lines(p).map((l) => JSON.parse(l));
    assert.deepEqual(ls.map((x) => x.seq), ls.map((_, i) => i + 1), 'one sequence across the restart');
    assert.ok(r.checkpoints >= 4);
    assert.equal(ls.filter((x) => x['verdict.decision_id']).length, 15);
  });

  it('cuts a half-written last line on restart, so the chain goes on', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    await writeTrail(p, keys, 5);
    writeFileSync(p, `${readFileSync(p, 'utf8')}{"seq":99,"half`);
    await writeTrail(p, keys, 3, 5);
    assert.equal((await verify(keys.publicKey, p)).problem, undefined);
  });

  it('names the first changed, removed, inserted or reordered record, and a cut tail', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    await writeTrail(p, keys, 12);
    const good = lines(p);
    const seqOf = (i: number) => JSON.parse(good[i]!).seq as number;
    const cases: [string, string[], number | undefined, RegExp][] = [];
    const changed = [...good];
    changed[3] = changed[3]!.replace('"allow"', '"deny"');
    cases.push(['changed', changed, seqOf(3), /changed/]);
    cases.push(['removed', good.filter((_, i) => i !== 5), seqOf(5), /removed/]);
    const swapped = [...good];
    [swapped[6], swapped[7]] = [swapped[7]!, swapped[6]!];
    cases.push(['reordered', swapped, seqOf(6), /reordered|inserted|replaced/]);
    // A forged record with a correct hash of its own, slipped in.
    const forged = JSON.parse(good[2]!);
    forged['verdict.decision_id'] = 'forged';
    forged.hash = recordHash(forged);
    cases.push(['inserted', [...good.slice(0, 3), JSON.stringify(forged), ...good.slice(3)], seqOf(2), /reordered or inserted/]);
    // Cut back to a decision record: the records after the last checkpoint are unsealed.
    let cut = good.length - 1;
    while (JSON.parse(good[cut - 1]!)['event.action'] === 'audit.checkpoint') cut--;
    cases.push(['cut tail', good.slice(0, cut), undefined, /unsealed tail/]);
    cases.push(['half line', [...good.slice(0, -1), good.at(-1)!.slice(0, 20)], undefined, /truncated tail|not a JSON record/]);
    for (const [name, ls, seq, why] of cases) {
      put(p, ls);
      if (name === 'half line') writeFileSync(p, readFileSync(p, 'utf8').slice(0, -1));
      const r = await verify(keys.publicKey, p);
      assert.ok(r.problem, `${name} detected`);
      assert.match(r.problem.message, why, name);
      if (seq !== undefined) assert.equal(r.problem.seq, seq, `${name}: first bad seq`);
    }
  });

  it('a whole chain rewritten without the key fails at its first checkpoint', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    await writeTrail(p, keys, 8);
    let prev: string | null = null;
    const rewritten = lines(p).map((l) => {
      const r = JSON.parse(l);
      if (r['verdict.decision']) r['verdict.decision'] = 'deny';
      r.prev_hash = prev;
      if (r['verdict.checkpoint']) r['verdict.checkpoint'].head = null;
      r.hash = recordHash(r);
      prev = r.hash;
      return JSON.stringify(r);
    });
    put(p, rewritten);
    assert.equal((await verify(undefined, p)).problem, undefined, 'without the key, a consistent rewrite cannot be told');
    const r = await verify(keys.publicKey, p);
    assert.match(r.problem!.message, /signature does not verify/);
  });

  it('verifies across rotated files in order, and not out of order', async () => {
    const dir = tempDir().dir;
    const p = join(dir, 'audit.jsonl');
    await writeTrail(p, keys, 12);
    const ls = lines(p);
    const a = join(dir, 'audit.1.jsonl');
    const b = join(dir, 'audit.2.jsonl');
    put(a, ls.slice(0, 7));
    put(b, ls.slice(7));
    assert.equal((await verify(keys.publicKey, a, b)).problem, undefined);
    assert.ok((await verify(keys.publicKey, b, a)).problem);
  });

  it('async mode writes a full buffer at once, without waiting for max_delay', async () => {
    const { statSync } = await import('node:fs');
    const p = join(tempDir().dir, 'audit.jsonl');
    const w = new AuditWriter({ sink: 'file', path: p, mode: 'async', maxDelayMs: 60_000, checkpointEvery: 1_000_000, checkpointIntervalMs: 0 });
    await w.write({ time: new Date().toISOString(), 'event.action': 'authorize' });
    const pad = 'x'.repeat(2000);
    for (let i = 0; i < 200; i++) await w.write({ time: new Date().toISOString(), 'event.action': 'authorize', 'verdict.detail': pad });
    for (let i = 0; i < 50 && statSync(p).size === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(statSync(p).size > 256 * 1024, 'written long before the 60 s max_delay');
    await w.close();
  });

  it('the CLI refuses bad input with exit 2 and a clear line', async () => {
    const { verdictAsyncResult } = await import('../../helpers/cli.js');
    const t = tempDir();
    const p = join(t.dir, 'audit.jsonl');
    await writeTrail(p, keys, 2);
    const cases: [string[], RegExp][] = [
      [['audit', 'verify'], /name the audit files/],
      [['audit', 'verify', join(t.dir, 'missing.jsonl')], /ENOENT/],
      [['audit', 'verify', p, '--key', t.write('bad.pem', 'not a key')], /not a public key or JWKS/],
      [['audit', 'query', p, '--since', 'yesterday'], /--since is not a time/],
      [['audit', 'rotate'], /use `audit verify/],
    ];
    for (const [args, why] of cases) {
      const r = await verdictAsyncResult(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, why, args.join(' '));
    }
  });

  it('the CLI: exit 0 intact, exit 1 naming the seq; keys as PEM', async () => {
    const { verdictAsyncResult } = await import('../../helpers/cli.js');
    const t = tempDir();
    const p = join(t.dir, 'audit.jsonl');
    await writeTrail(p, keys, 6);
    const pem = t.write('audit-pub.pem', await exportSPKI(keys.publicKey));
    void exportPKCS8;
    const ok = await verdictAsyncResult(['audit', 'verify', p, '--key', pem]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^intact: \d+ records/);
    const ls = lines(p);
    put(p, ls.filter((_, i) => i !== 2));
    const bad = await verdictAsyncResult(['audit', 'verify', p, '--key', pem]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /audit\.jsonl:3: seq 3: records 3…3 are missing: removed/);
  });
});

describe('audit file rotation and retention', () => {
  it('rotates by size between batches, keeps one chain across files, and compresses or deletes old files', async () => {
    const { readdirSync, existsSync } = await import('node:fs');
    const { rotatedName } = await import('../../../src/audit/audit-writer.js');
    const { gunzipSync } = await import('node:zlib');
    const keys = await generateKeyPair('ES256');
    const dir = tempDir().dir;
    const p = join(dir, 'audit.jsonl');
    const old = rotatedName(p, new Date(Date.now() - 10 * 86_400_000));
    writeFileSync(old, '{"old":true}\n');
    const w = new AuditWriter({ sink: 'file', path: p, mode: 'sync', maxDelayMs: 10, checkpointEvery: 1000, checkpointIntervalMs: 0, signingKey: { key: keys.privateKey, kid: 'k' }, rotateBytes: 2000, retentionMs: 7 * 86_400_000, retentionAction: 'compress' });
    for (let i = 0; i < 40; i++) await w.write({ time: new Date().toISOString(), 'event.action': 'authorize', 'verdict.decision_id': `d${i}` });
    await w.close();
    assert.ok(!existsSync(old) && existsSync(`${old}.gz`), 'the expired file was compressed');
    assert.match(gunzipSync(readFileSync(`${old}.gz`)).toString(), /"old":true/);
    const rotated = readdirSync(dir).filter((n) => /^audit\.\d{4}.*Z\.jsonl$/.test(n)).sort().map((n) => join(dir, n));
    assert.ok(rotated.length >= 3, `rotated into ${rotated.length} files`);
    const r = await verifyTrail([...rotated, p].map((f) => ({ name: f, text: readFileSync(f, 'utf8') })), keys.publicKey);
    assert.equal(r.problem, undefined, JSON.stringify(r.problem));
    assert.equal(r.records, 41);
  });
});
