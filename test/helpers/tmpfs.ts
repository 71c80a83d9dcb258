import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/**
 * A small tmpfs of its own (a real "disk full"), unmounted when the test ends. Mounting
 * needs root: outside CI a test without it is skipped with a line; under CI=true as root
 * (as CI runs) a failed mount is an error, so a green CI never hides a skipped fault test.
 */
export function smallTmpfs(t: TestContext, sizeKb: number): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'verdict-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'verdict-test', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const why = `cannot mount a tmpfs (needs root): ${(r.stderr || r.error?.message || '').trim()}`;
    if (process.env.CI === 'true' && process.getuid?.() === 0) throw new Error(why);
    t.skip(why);
    return undefined;
  }
  const unmount = () => {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  };
  t.after(unmount);
  process.once('exit', unmount);
  return dir;
}

/** Fills the file system at `dir` to the last byte with `name`. */
export function fill(dir: string, name = 'filler'): string {
  const path = join(dir, name);
  const fd = openSync(path, 'a');
  const chunk = Buffer.alloc(4096, 0x78);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  // The last partial block too.
  try {
    for (;;) writeSync(fd, chunk, 0, 1);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  closeSync(fd);
  return path;
}
