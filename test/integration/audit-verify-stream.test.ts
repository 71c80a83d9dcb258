// `verdict audit verify` on hostile and large trails: the files are streamed, not read whole.
// Reading whole files made a `.gz` of 400 KB inflate to 400 MiB in memory (and a string as
// long), and a trail file over 512 MiB, the longest string Node makes, could not be verified.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { createGzip } from 'node:zlib';
import { AuditWriter } from '../../src/audit/audit-writer.js';
import { BIN, verdictAsyncResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

/** A `.gz` holding one line of `mib` MiB of `a` (and no newline): a few hundred KB on disk. */
async function gzBomb(file: string, mib: number): Promise<void> {
  const chunk = Buffer.alloc(MiB, 'a');
  await pipeline(Readable.from((function* () {
    for (let i = 0; i < mib; i++) yield chunk;
  })()), createGzip({ level: 1 }), createWriteStream(file));
}

/** A real, sealed trail of `n` decisions. */
async function trail(file: string, n: number): Promise<void> {
  const w = new AuditWriter({ sink: 'file', path: file, mode: 'sync', maxDelayMs: 10, checkpointEvery: 1_000_000, checkpointIntervalMs: 0, watchMs: 0 });
  for (let i = 0; i < n; i++) await w.write({ time: new Date().toISOString(), 'event.action': 'authorize', 'verdict.decision_id': `d${i}`, 'verdict.decision': 'allow' });
  await w.close();
}

describe('audit verify streams the trail', () => {
  it('a .gz inflating to one 400 MiB line after a sealed trail: exit 1 at that line, memory bounded by the line limit', async () => {
    const t = tempDir();
    const live = join(t.dir, 'audit.jsonl');
    const bomb = join(t.dir, 'audit.2026-11-30T00-00-00.000Z.jsonl.gz');
    await trail(live, 3);
    await gzBomb(bomb, 400);
    // The child prints its peak memory as it exits (stderr is a pipe: written synchronously).
    const probe = join(t.dir, 'rss.mjs');
    writeFileSync(probe, "process.on('exit', () => process.stderr.write(`maxrss_kb=${process.resourceUsage().maxRSS}\\n`));\n");
    const run = await verdictAsyncResult(['audit', 'verify', live, bomb], { env: { NODE_OPTIONS: `--import ${probe}` } });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`${bomb.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1: seq 5: line longer than 134217728 bytes: no record is that long`));
    const rssMiB = Number(/maxrss_kb=(\d+)/.exec(run.stderr)?.[1]) / 1024;
    assert.ok(rssMiB > 0, run.stderr);
    // The line limit (128 MiB) plus Node itself; reading the file whole took over 800 MiB.
    assert.ok(rssMiB < 400, `peak memory ${rssMiB.toFixed(0)} MiB`);
  });

  it('a sealed trail across files still verifies; a missing file is exit 2 before any walk', async () => {
    const t = tempDir();
    const live = join(t.dir, 'audit.jsonl');
    await trail(live, 5);
    const ok = await verdictAsyncResult(['audit', 'verify', live]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^intact: 6 records, seq 1…6, 1 checkpoints/);
    const missing = await verdictAsyncResult(['audit', 'verify', join(t.dir, 'nope.jsonl'), live]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.jsonl/);
    const folder = await verdictAsyncResult(['audit', 'verify', t.dir]);
    assert.equal(folder.code, 2);
    assert.match(folder.stderr, /a folder, not an audit file/);
  });

  it('an emptied trail is not intact (also under --live); a pipe is read like a file', async () => {
    const t = tempDir();
    const emptied = join(t.dir, 'audit.jsonl');
    writeFileSync(emptied, '');
    for (const args of [[emptied], [emptied, '--live']]) {
      const r = await verdictAsyncResult(['audit', 'verify', ...args]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /no records: a trail starts with the server's start record/);
    }
    const live = join(t.dir, 'trail.jsonl');
    await trail(live, 2);
    // Process substitution hands over a pipe (/dev/fd/N): streamed like a file.
    const piped = spawnSync('bash', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} audit verify <(cat ${JSON.stringify(live)})`], { encoding: 'utf8' });
    assert.equal(piped.status, 0, piped.stdout + piped.stderr);
    assert.match(piped.stdout, /^intact: 3 records/);
  });
});
