import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, fdatasync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, mock } from 'node:test';
import { AuditWriter, rotatedName, type AuditWriterOptions } from '../../../src/audit/audit-writer.js';
import { verifyTrail } from '../../../src/audit/verify.js';
import { tempDir } from '../../helpers/tmp.js';

type Rec = Record<string, unknown>;
const read = (p: string): Rec[] => (existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec) : []);
const verify = (...files: string[]) => verifyTrail(files.map((f) => ({ name: f, text: readFileSync(f, 'utf8') })));
const decision = (id: string): Rec => ({ time: new Date().toISOString(), 'event.action': 'authorize', 'verdict.decision_id': id, 'verdict.decision': 'allow' });
const writer = (path: string, o: Partial<AuditWriterOptions> = {}) => new AuditWriter({ sink: 'file', path, mode: 'sync', maxDelayMs: 10, checkpointEvery: 1_000_000, checkpointIntervalMs: 0, watchMs: 0, ...o });
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

describe('audit file moved or removed under the writer', () => {
  it('rm of the live file: the next batch goes to a new file, after an audit.reopened record naming the lost seqs', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    const reasons: string[] = [];
    const w = writer(p, { onReopen: (r) => reasons.push(r) });
    for (let i = 0; i < 3; i++) await w.write(decision(`a${i}`));
    unlinkSync(p);
    await w.write(decision('b0'));
    await w.write(decision('b1'));
    await w.close();
    const recs = read(p);
    assert.deepEqual(reasons, ['removed']);
    assert.deepEqual(recs.map((r) => r['verdict.decision_id'] ?? r['event.action']), ['b0', 'audit.reopened', 'b1', 'audit.checkpoint']);
    assert.equal(recs[1]!['verdict.reopen_reason'], 'removed');
    assert.deepEqual(recs[1]!['verdict.lost_seqs'], [1, 3]);
    assert.equal(recs[0]!.seq, 4, 'the chain goes on');
    assert.equal((await verify(p)).problem, undefined);
  });

  it('rm between the write and its answer: the batch is written again into a new file before it is acknowledged', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    let removeOnce = false;
    // The injected flush removes the file right after the batch reached it (an operator's rm at the worst moment).
    const w = writer(p, {
      durability: 'disk',
      fdatasync: (fd, cb) => {
        if (removeOnce) {
          removeOnce = false;
          unlinkSync(p);
        }
        fdatasync(fd, cb);
      },
    });
    await w.write(decision('a0'));
    removeOnce = true;
    await w.write(decision('a1'));
    const ids = read(p).map((r) => r['verdict.decision_id']);
    assert.ok(ids.includes('a1'), `a1 is on disk when its write settles: ${JSON.stringify(ids)}`);
    await w.close();
    assert.equal((await verify(p)).problem, undefined);
  });

  it('logrotate `create`: the old file keeps its records, the chain continues in the new one, and both verify in order', async () => {
    const dir = tempDir().dir;
    const p = join(dir, 'audit.jsonl');
    const w = writer(p);
    for (let i = 0; i < 3; i++) await w.write(decision(`a${i}`));
    const old = join(dir, 'audit.jsonl.1');
    renameSync(p, old);
    writeFileSync(p, '');
    await w.write(decision('b0')); // written to the old file (still open), then the writer notices
    await w.write(decision('b1'));
    await w.close();
    assert.deepEqual(read(old).map((r) => r['verdict.decision_id']), ['a0', 'a1', 'a2', 'b0']);
    const fresh = read(p);
    assert.equal(fresh[0]!['event.action'], 'audit.reopened');
    assert.equal(fresh[0]!['verdict.reopen_reason'], 'replaced');
    assert.equal(fresh[1]!['verdict.decision_id'], 'b1');
    assert.equal((await verify(old, p)).problem, undefined);
  });

  it('mv without a new file: the writer creates the path again (reason moved), noticed even while idle', async () => {
    const dir = tempDir().dir;
    const p = join(dir, 'audit.jsonl');
    const w = writer(p, { watchMs: 20 });
    await w.write(decision('a0'));
    renameSync(p, join(dir, 'moved.jsonl'));
    await until('the idle writer recreates the path', () => read(p).length > 0);
    assert.equal(read(p)[0]!['verdict.reopen_reason'], 'moved');
    await w.write(decision('b0'));
    await w.close();
    assert.equal((await verify(join(dir, 'moved.jsonl'), p)).problem, undefined);
  });

  it('reopen() (SIGHUP) reopens the path even when nothing moved, and says so', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    const w = writer(p);
    await w.write(decision('a0'));
    w.reopen();
    await until('a reopened record', () => read(p).some((r) => r['verdict.reopen_reason'] === 'signal'));
    await w.close();
    assert.equal((await verify(p)).problem, undefined);
  });
});

describe('chain continuity across missing live files', () => {
  it('a start with the live file missing continues from the newest rotated file', async () => {
    const dir = tempDir().dir;
    const p = join(dir, 'audit.jsonl');
    let w = writer(p);
    for (let i = 0; i < 3; i++) await w.write(decision(`a${i}`));
    await w.close();
    const rotated = rotatedName(p, new Date());
    renameSync(p, rotated);
    w = writer(p);
    await w.write(decision('b0'));
    await w.close();
    assert.equal(read(p)[0]!.seq, 5, 'seq goes on after the rotated file (3 records + checkpoint)');
    assert.equal((await verify(rotated, p)).problem, undefined);
  });

  it('a rotation that finds the live file gone continues the chain in a new file', async () => {
    const dir = tempDir().dir;
    const p = join(dir, 'audit.jsonl');
    const w = writer(p, { rotateBytes: 200 });
    await w.write(decision('a0'));
    unlinkSync(p);
    await w.write(decision('b0')); // rotation is due: the file is gone, the writer reopens the path
    await w.write(decision('b1'));
    await w.close();
    const files = [...readdirNames(dir).filter((n) => n !== 'audit.jsonl').map((n) => join(dir, n)), p];
    const recs = files.flatMap(read);
    assert.deepEqual(recs.map((r) => r['verdict.decision_id'] ?? r['event.action']), ['b0', 'audit.reopened', 'b1', 'audit.checkpoint']);
    assert.deepEqual(recs[1]!['verdict.lost_seqs'], [1, 1], 'a0 went with the deleted file, and the chain says so');
    // The files after the removal verify as one chain.
    assert.equal((await verify(...files)).problem, undefined);
  });
  it('two rotations in one millisecond keep both files (the second never replaces the first)', async (t) => {
    const dir = tempDir().dir;
    const p = join(dir, 'audit.jsonl');
    // The clock stands still: every rotation asks for the same name (before the fix, the
    // second rename replaced the first rotated file and its answered records with it).
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    t.after(() => mock.timers.reset());
    const w = writer(p, { rotateBytes: 1 });
    for (let i = 0; i < 4; i++) await w.write(decision(`a${i}`));
    await w.close();
    const files = [...readdirNames(dir).filter((n) => n !== 'audit.jsonl').map((n) => join(dir, n)), p];
    assert.equal(files.length, 5, `one file per batch: ${readdirNames(dir).join(' ')}`);
    assert.deepEqual(files.flatMap(read).map((r) => r['verdict.decision_id'] ?? r['event.action']), ['a0', 'a1', 'a2', 'a3', 'audit.checkpoint']);
    assert.equal((await verify(...files)).problem, undefined);
  });
});

describe('durability', () => {
  it('disk: a write settles only after its group commit is flushed (fdatasync held back)', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    let release: (() => void) | undefined;
    let syncs = 0;
    const w = writer(p, {
      durability: 'disk',
      fdatasync: (fd, cb) => {
        syncs++;
        release = () => fdatasync(fd, cb);
      },
    });
    let settled = false;
    const done = w.write(decision('a0')).then(() => (settled = true));
    await until('the flush was asked for', () => release !== undefined);
    assert.ok(read(p).length === 1, 'the record is written…');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(settled, false, '…but not acknowledged before fdatasync returns');
    release!();
    await done;
    assert.equal(syncs, 1);
    release = undefined;
    const closing = w.close();
    await until('close flushes too', () => release !== undefined);
    release!();
    await closing;
  });

  it('os: no fdatasync per commit', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    let syncs = 0;
    const w = writer(p, { durability: 'os', fdatasync: (fd, cb) => (syncs++, fdatasync(fd, cb)) });
    await Promise.all([w.write(decision('a0')), w.write(decision('a1'))]);
    await w.write(decision('a2'));
    assert.equal(syncs, 0);
    await w.close();
  });

  it('defaults: disk for a sync file sink, os for async', async () => {
    const dir = tempDir().dir;
    const count = async (mode: 'sync' | 'async') => {
      let syncs = 0;
      const w = writer(join(dir, `${mode}.jsonl`), { mode, fdatasync: (fd, cb) => (syncs++, fdatasync(fd, cb)) });
      await w.write(decision('a0'));
      const n = syncs;
      await w.close();
      return n;
    };
    assert.equal(await count('sync'), 1);
    assert.equal(await count('async'), 0);
  });
});

describe('async mode', () => {
  it('the writes of one event-loop turn settle together at its end, before their records are written', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    const w = writer(p, { mode: 'async', maxDelayMs: 60_000 });
    const settled: string[] = [];
    let duringTurn: string[] | undefined;
    setImmediate(() => (duringTurn = [...settled])); // queued before the writes: still this turn's work
    const writes = ['a', 'b', 'c'].map((id) => w.write(decision(id)).then(() => void settled.push(id)));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    assert.deepEqual(settled, [], 'not settled within the microtasks of the turn that wrote them');
    await Promise.all(writes);
    assert.deepEqual(duringTurn, [], 'not before the work queued ahead of them in the turn');
    assert.deepEqual(settled, ['a', 'b', 'c'], 'all of the turn settle, in order');
    assert.equal(read(p).length, 0, 'answered before the records are written (max_delay not reached)');
    await w.write(decision('d')); // the next turn gets its own promise
    await w.close();
    assert.deepEqual(read(p).filter((r) => r['event.action'] === 'authorize').map((r) => r['verdict.decision_id']), ['a', 'b', 'c', 'd']);
    assert.equal((await verify(p)).problem, undefined);
  });

  it('records of many turns reach the file and the syslog copy in chain order, and close writes the rest', async () => {
    const p = join(tempDir().dir, 'audit.jsonl');
    const copies: string[] = [];
    const w = writer(p, { mode: 'async', maxDelayMs: 60_000, forward: { send: (l) => void copies.push(l), close: async () => {} } });
    for (let turn = 0; turn < 5; turn++) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => w.write(decision(`t${turn}-${i}`))));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(read(p).length, 0, 'nothing written before max_delay or 256 KiB');
    await w.close();
    const recs = read(p);
    assert.equal(recs.filter((r) => r['event.action'] === 'authorize').length, 100);
    assert.deepEqual(recs.map((r) => r.seq), recs.map((_, i) => i + 1));
    assert.deepEqual(copies.map((l) => (JSON.parse(l) as Rec).seq), recs.map((r) => r.seq), 'the syslog copy has every record, in order');
    assert.equal((await verify(p)).problem, undefined);
  });

  it('close leaves no flush timer behind (a pending max_delay flush kept the process alive for its whole delay)', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const w = writer(join(tempDir().dir, 'audit.jsonl'), { mode: 'async', maxDelayMs: 60_000 });
    await w.write(decision('late'));
    await new Promise((r) => setImmediate(r));
    assert.ok(timers() > before, 'the record waits on a max_delay timer');
    await w.close();
    assert.equal(timers(), before, 'no timer of the writer is left after close');
  });
});

function readdirNames(dir: string): string[] {
  return readdirSync(dir).sort();
}

describe('audit path on a pipe', () => {
  it('a FIFO (or /dev/stdout): a stalled reader holds back its records, not the event loop; nothing to fdatasync', { timeout: 20_000 }, async () => {
    const p = join(tempDir().dir, 'audit.fifo');
    execFileSync('mkfifo', [p]);
    // The default durability for a sync file sink (`disk`): a pipe has nothing to fdatasync.
    const w = writer(p);
    // More than a pipe holds (64 KiB), and nobody reading yet: a write to it blocks.
    const detail = 'x'.repeat(4000);
    const writes = Array.from({ length: 40 }, (_, i) => w.write({ ...decision(`f${i}`), 'verdict.detail': detail }));
    let settled = false;
    void Promise.all(writes).then(() => (settled = true));
    // The loop still turns (a timer fires) while the write waits for a reader.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(settled, false, 'the records wait for the reader');
    const reader = spawn('cat', [p], { stdio: ['ignore', 'pipe', 'ignore'] });
    let got = '';
    reader.stdout.on('data', (d: Buffer) => (got += d.toString()));
    await Promise.all(writes);
    await w.close();
    await until('the reader got the last record', () => got.includes('"verdict.decision_id":"f39"'));
    reader.kill();
  });
});
