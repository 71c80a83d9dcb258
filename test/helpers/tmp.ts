import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A fresh folder, removed when the test process exits (not with node:test's `after`,
 * which inside a `before` hook would remove it before the tests run).
 */
export function tempDir(prefix = 'verdict-test-'): { dir: string; write(name: string, content: unknown): string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    write(name, content) {
      const p = join(dir, name);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
      return p;
    },
  };
}
