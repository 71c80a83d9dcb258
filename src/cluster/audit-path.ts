import { extname } from 'node:path';

/** Worker `id`'s own audit file: `audit.jsonl` → `audit.w1.jsonl` (one hash chain per process). */
export function workerAuditPath(path: string, id: number): string {
  const ext = extname(path);
  return ext ? `${path.slice(0, -ext.length)}.w${id}${ext}` : `${path}.w${id}`;
}

/** The worker number in an audit file name written by `serve --workers`, if any. */
export function workerOfAuditFile(file: string): number | undefined {
  const m = /\.w([1-9][0-9]*)(?:\.[^/]*)?$/.exec(file);
  return m ? Number(m[1]) : undefined;
}

/**
 * Files of one trail grouped by the chain that wrote them (order within a group kept: oldest
 * first). Files without a worker number form one group, keyed 0.
 */
export function groupByWorker(files: readonly string[]): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const f of files) {
    const w = workerOfAuditFile(f) ?? 0;
    const g = groups.get(w) ?? [];
    g.push(f);
    groups.set(w, g);
  }
  return new Map([...groups].sort(([a], [b]) => a - b));
}
