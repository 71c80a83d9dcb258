import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEMO_POLICY } from '../helpers/app.js';
import { verdictAsyncResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('policy hash', () => {
  it('is the same from three working directories and covers names relative to the policy folder', async () => {
    const t = tempDir();
    const a = t.write('deploy/policies/a.json', DEMO_POLICY);
    const b = t.write('deploy/policies/b.json', { version: 1, routes: [{ id: 'other', match: { hosts: ['other.example.com'] }, allow: { accept: true } }] });
    mkdirSync(join(t.dir, 'elsewhere'));
    const dir = join(t.dir, 'deploy/policies');
    // The documented definition: sha256 over "<name>\0<sha256 of the file>\n", names sorted.
    const expected = sha256(['a.json', 'b.json'].map((n, i) => `${n}\0${sha256(readFileSync([a, b][i]!, 'utf8'))}\n`).join(''));
    const cwds = [t.dir, dir, join(t.dir, 'elsewhere')];
    const runs = await Promise.all(cwds.map((cwd) => verdictAsyncResult(['validate', '--policies', dir], { cwd })));
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(/policy hash ([0-9a-f]{64})/.exec(r.stdout)?.[1], expected, `from ${cwds[i]}`);
    }
  });
});
