import { watch, type FSWatcher } from 'node:fs';
import { VerdictError, type Problem } from '../errors.js';
import { compilePolicy } from '../policy/compile-policy.js';
import type { PolicySet } from '../policy/policy-set.js';
import { PolicyParser, loadPolicyDirOffThread, runSliced } from './load-off-thread.js';
import { readPolicyDir } from './read-policy-dir.js';

export interface RouteDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

export type ReloadEvent =
  | { ok: true; policy: PolicySet; previous: PolicySet; diff: RouteDiff }
  | { ok: false; problems: Problem[]; kept: PolicySet };

/** Reads and compiles a policy folder; throws a VerdictError listing every problem. */
export function loadPolicyDir(dir: string): PolicySet {
  const result = compilePolicy(readPolicyDir(dir), {});
  if (!result.ok) throw new VerdictError('POLICY_INVALID', 'invalid policy', { problems: result.problems });
  return result.policy;
}

/** The route ids added, removed and changed, one route per step (see runSliced). */
export function* diffSteps(before: PolicySet, after: PolicySet): Generator<void, RouteDiff, void> {
  const added: string[] = [];
  const changed: string[] = [];
  for (const r of after.routes) {
    const old = before.byId.get(r.id);
    if (!old) added.push(r.id);
    else if (JSON.stringify(old.source) !== JSON.stringify(r.source)) changed.push(r.id);
    yield;
  }
  const removed: string[] = [];
  for (const r of before.routes) {
    if (!after.byId.has(r.id)) removed.push(r.id);
    yield;
  }
  return { added, removed, changed };
}

export function diffRoutes(before: PolicySet, after: PolicySet): RouteDiff {
  const steps = diffSteps(before, after);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * Holds the policy set in force. A request reads `current` once and keeps that
 * snapshot for its whole decision, so a reload can never give it half of each set.
 */
export class PolicyStore {
  #current: PolicySet;
  readonly #dir: string;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #queue: Promise<void> = Promise.resolve();
  readonly #parser = new PolicyParser();

  constructor(dir: string, initial: PolicySet) {
    this.#dir = dir;
    this.#current = initial;
  }

  get current(): PolicySet {
    return this.#current;
  }

  /**
   * Validates the whole folder again; swaps only if every file is valid. The work runs
   * off the serving thread or in slices of a few milliseconds (load-off-thread.ts), and
   * reloads run one after another, each reading the folder as it is then.
   */
  reload(): Promise<ReloadEvent> {
    const next = this.#queue.then(() => this.#reloadOnce());
    this.#queue = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  async #reloadOnce(): Promise<ReloadEvent> {
    const previous = this.#current;
    let next: PolicySet;
    try {
      next = await loadPolicyDirOffThread(this.#dir, this.#parser);
    } catch (e) {
      const problems = e instanceof VerdictError && e.problems.length > 0 ? [...e.problems] : [{ file: this.#dir, pointer: '', message: (e as Error).message }];
      return { ok: false, problems, kept: previous };
    }
    const diff = await runSliced(diffSteps(previous, next));
    // One assignment: a request in flight keeps the snapshot it read.
    this.#current = next;
    return { ok: true, policy: next, previous, diff };
  }

  /** Watches the folder; bursts of file events (editors, ConfigMap swaps) become one reload. */
  watch(debounceMs: number, onReload: (event: ReloadEvent) => void): void {
    if (this.#watcher) return;
    this.#parser.warm();
    this.#watcher = watch(this.#dir, { persistent: false }, () => {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.reload().then(onReload), debounceMs);
    });
    this.#watcher.on('error', () => {
      // The folder vanished or became unreadable: keep serving the set in force.
    });
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#parser.close();
  }
}
