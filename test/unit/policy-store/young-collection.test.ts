import assert from 'node:assert/strict';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { collectYoungGeneration } from '../../../src/policy-store/young-collection.js';
import { runSliced } from '../../../src/policy-store/load-off-thread.js';

/** The kinds of garbage collections that ran during `fn`. */
async function collectionsDuring(fn: () => Promise<unknown> | unknown): Promise<number[]> {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  await fn();
  // Entries are delivered asynchronously.
  await new Promise((r) => setTimeout(r, 20));
  observer.disconnect();
  return kinds;
}

describe('young-generation collection between reload slices', () => {
  it('runs a scavenge when asked, and exposes no gc function to this or later contexts', async () => {
    const kinds = await collectionsDuring(() => collectYoungGeneration());
    assert.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MINOR), `collections seen: ${JSON.stringify(kinds)}`);
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
    assert.equal(runInNewContext('typeof gc'), 'undefined');
  });

  it('runSliced calls betweenSlices once per slice boundary and still returns the result', async () => {
    let between = 0;
    function* steps(): Generator<void, string, void> {
      for (let i = 0; i < 40; i++) {
        const until = performance.now() + 1;
        while (performance.now() < until);
        yield;
      }
      return 'done';
    }
    const result = await runSliced(steps(), 4, () => between++);
    assert.equal(result, 'done');
    // 40 steps of ≥1 ms in slices of 4 ms: some boundaries, never one per step (a loaded
    // machine shifts the exact count).
    assert.ok(between >= 1 && between < 40, `boundaries: ${between}`);
  });
});
