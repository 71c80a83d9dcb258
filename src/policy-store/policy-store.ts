import { realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { VerdictError, type Problem, type SettingOrigin } from '../errors.js';
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
export function loadPolicyDir(dir: string, origin?: SettingOrigin): PolicySet {
  const result = compilePolicy(readPolicyDir(dir, origin), {});
  if (!result.ok) throw new VerdictError('POLICY_INVALID', 'invalid policy', { problems: result.problems });
  return result.policy;
}

/**
 * The problem of a policy set with no routes, unless `policies.allow_empty` says so: an
 * empty folder is far more often a half-finished `git checkout`, a ConfigMap being swapped
 * or a wrong path than an intended "deny everything".
 */
export function emptyPolicyProblem(dir: string, policy: PolicySet): Problem | undefined {
  if (policy.routes.length > 0) return undefined;
  return { file: dir, pointer: '', message: 'the policy folder has no routes (no *.json files, or none with routes); set policies.allow_empty: true if an empty policy (every request 404 route-not-found) is intended' };
}

/** How often the watched folder's identity is checked (removed, recreated, symlink swapped). */
const FOLDER_CHECK_MS = 1000;

/**
 * The folder as it is now: its real path, inode and birth time, or undefined while it does
 * not exist. File systems hand a folder removed and made again at once the same inode
 * (`rm -r` then `git checkout`), so the inode alone would keep a watcher on the dead folder.
 */
function folderIdentity(dir: string): string | undefined {
  try {
    const real = realpathSync(dir);
    const st = statSync(real);
    return st.isDirectory() ? `${real}\u0000${st.dev}:${st.ino}:${st.birthtimeMs}` : undefined;
  } catch {
    return undefined;
  }
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
  readonly #allowEmpty: boolean;
  #watchedIdentity: string | undefined;
  #folderCheck: NodeJS.Timeout | undefined;
  #onReload: ((event: ReloadEvent) => void) | undefined;
  #debounceMs = 0;

  constructor(dir: string, initial: PolicySet, options: { allowEmpty?: boolean } = {}) {
    this.#dir = dir;
    this.#current = initial;
    this.#allowEmpty = options.allowEmpty ?? false;
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
    const empty = this.#allowEmpty ? undefined : emptyPolicyProblem(this.#dir, next);
    if (empty) return { ok: false, problems: [empty], kept: previous };
    const diff = await runSliced(diffSteps(previous, next));
    // One assignment: a request in flight keeps the snapshot it read.
    this.#current = next;
    return { ok: true, policy: next, previous, diff };
  }

  /**
   * Watches the folder; bursts of file events (editors, ConfigMap swaps) become one reload.
   * The folder itself may go away and come back (`git checkout`, `rm -r` and copy, a
   * symlinked folder swapped): its identity (real path and inode) is checked every second,
   * and a new folder gets a new watcher and a reload. While it is missing, the set in force
   * stays.
   */
  watch(debounceMs: number, onReload: (event: ReloadEvent) => void): void {
    if (this.#onReload) return;
    this.#onReload = onReload;
    this.#debounceMs = debounceMs;
    this.#parser.warm();
    this.#attach();
    this.#folderCheck = setInterval(() => this.#checkFolder(), FOLDER_CHECK_MS);
    this.#folderCheck.unref();
  }

  #attach(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#watchedIdentity = folderIdentity(this.#dir);
    if (this.#watchedIdentity === undefined) return;
    try {
      const watcher = watch(this.#dir, { persistent: false }, () => this.#schedule());
      watcher.on('error', () => {
        // The folder vanished or became unreadable: the folder check re-attaches when it is back.
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
        this.#watchedIdentity = undefined;
      });
      this.#watcher = watcher;
    } catch {
      this.#watchedIdentity = undefined;
    }
  }

  #checkFolder(): void {
    const now = folderIdentity(this.#dir);
    if (now === this.#watchedIdentity && (this.#watcher !== undefined || now === undefined)) return;
    this.#attach();
    // A new folder (or the old one back): read it. A missing one changes nothing.
    if (this.#watchedIdentity !== undefined) this.#schedule();
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    const onReload = this.#onReload;
    if (!onReload) return;
    this.#timer = setTimeout(() => void this.reload().then(onReload), this.#debounceMs);
  }

  close(): void {
    clearTimeout(this.#timer);
    clearInterval(this.#folderCheck);
    this.#folderCheck = undefined;
    this.#onReload = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#parser.close();
  }
}
