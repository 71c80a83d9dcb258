import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'minor' }) => void;

let gc: Gc | null | undefined;

/**
 * Collects V8's young generation now (a scavenge), for the reload compile between two of its
 * slices (load-off-thread.ts). Why: nearly everything the compile allocates survives (it is the
 * new policy set), and a scavenge costs in proportion to what survives. Left to itself V8
 * collects when the young generation is full (up to 16 MB of survivors to copy: 12–27 ms of
 * CPU per collection measured here, one every few slices, landing in the middle of a slice);
 * collected after each ~4 ms slice, it copies one slice's worth (2–7 ms of CPU measured, all
 * threads), in a turn of its own. Normal serving is
 * untouched (a process-wide `--max-semi-space-size` would cap the pause too, but for every
 * request, always). bench/reload-gaps.ts measures both.
 *
 * `gc` is reached the documented way for a running process: the `--expose-gc` flag set, a
 * new context created (it gets `gc`; this module's own global never does), the flag unset.
 * Where that is not possible, nothing is collected: reloads work as before, with longer pauses.
 */
export function collectYoungGeneration(): void {
  if (gc === undefined) gc = exposeGc();
  gc?.({ type: 'minor' });
}

function exposeGc(): Gc | null {
  try {
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof fn === 'function' ? (fn as Gc) : null;
  } catch {
    return null;
  } finally {
    // Only the context above gets `gc`: contexts other code creates later do not.
    if (!process.execArgv.some((a) => a === '--expose-gc' || a === '--expose_gc')) setFlagsFromString('--no-expose-gc');
  }
}
