import { watch, type FSWatcher } from 'node:fs';
import { VerdictError, type Problem } from '../errors.js';
import { compilePolicy } from '../policy/compile-policy.js';
import type { PolicySet } from '../policy/policy-set.js';
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

export function diffRoutes(before: PolicySet, after: PolicySet): RouteDiff {
  const added: string[] = [];
  const changed: string[] = [];
  for (const r of after.routes) {
    const old = before.byId.get(r.id);
    if (!old) added.push(r.id);
    else if (JSON.stringify(old.source) !== JSON.stringify(r.source)) changed.push(r.id);
  }
  const removed = before.routes.filter((r) => !after.byId.has(r.id)).map((r) => r.id);
  return { added, removed, changed };
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

  constructor(dir: string, initial: PolicySet) {
    this.#dir = dir;
    this.#current = initial;
  }

  get current(): PolicySet {
    return this.#current;
  }

  /** Validates the whole folder again; swaps only if every file is valid. */
  reload(): ReloadEvent {
    const previous = this.#current;
    let next: PolicySet;
    try {
      next = loadPolicyDir(this.#dir);
    } catch (e) {
      const problems = e instanceof VerdictError && e.problems.length > 0 ? [...e.problems] : [{ file: this.#dir, pointer: '', message: (e as Error).message }];
      return { ok: false, problems, kept: previous };
    }
    this.#current = next;
    return { ok: true, policy: next, previous, diff: diffRoutes(previous, next) };
  }

  /** Watches the folder; bursts of file events (editors, ConfigMap swaps) become one reload. */
  watch(debounceMs: number, onReload: (event: ReloadEvent) => void): void {
    if (this.#watcher) return;
    this.#watcher = watch(this.#dir, { persistent: false }, () => {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => onReload(this.reload()), debounceMs);
    });
    this.#watcher.on('error', () => {
      // The folder vanished or became unreadable: keep serving the set in force.
    });
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
