import { Worker } from 'node:worker_threads';
import { VerdictError, type Problem } from '../errors.js';
import { compileSteps, type ParsedFile } from '../policy/compile-policy.js';
import type { PolicySet } from '../policy/policy-set.js';
import { collectYoungGeneration } from './young-collection.js';

/** Longest stretch of compile work between two turns of the event loop. */
const SLICE_MS = 4;

const rest = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs steps in slices of a few milliseconds, so checks and health probes keep being answered
 * while a large set compiles. After each slice the serving thread gets at least as long to
 * itself (a timer, not the next turn): a check takes several turns of the event loop (read,
 * decide, audit write, flush, answer), and yielding one turn at a time put a slice in front
 * of each of them — ~20 ms per check during a 10,000-route reload against ~1 ms for
 * `/healthz`, which takes one turn (bench/README.md). The reload takes about twice the CPU
 * time in wall time instead. `betweenSlices` runs after each slice, with the same rest after it.
 */
export async function runSliced<T>(steps: Generator<void, T, void>, sliceMs = SLICE_MS, betweenSlices?: () => void): Promise<T> {
  let started = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    const worked = performance.now() - started;
    if (worked >= sliceMs) {
      await rest(worked);
      if (betweenSlices) {
        const t = performance.now();
        betweenSlices();
        await rest(performance.now() - t);
      }
      started = performance.now();
    }
  }
}

type WorkerMessage = { id: number } & (
  | { type: 'file'; name: string; sha256: string; problems?: Problem[]; hasRoutes: boolean }
  | { type: 'routes'; json: string }
  | { type: 'done' }
  | { type: 'failed'; problems: Problem[] }
);

interface Pending {
  readonly files: { name: string; sha256: string; problems?: Problem[]; routeChunks?: string[] }[];
  resolve(files: ParsedFile[]): void;
  reject(e: Error): void;
}

/**
 * Reads, parses and schema-checks policy folders on one worker thread (policy-worker.ts),
 * started on first use and kept while reloads come (loading the validator there costs
 * more than a reload), stopped after `idleMs` without one (its memory, ~40 MB, is not
 * held between rare reloads). A worker that fails fails the parses in flight (their
 * reloads are rejected; the set in force stays) and is started again on the next one.
 */
export class PolicyParser {
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #idleMs: number;
  #idle: NodeJS.Timeout | undefined;

  constructor(idleMs = 60_000) {
    this.#idleMs = idleMs;
  }

  parse(dir: string): Promise<ParsedFile[]> {
    const worker = this.#start();
    clearTimeout(this.#idle);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { files: [], resolve, reject });
      worker.postMessage({ id, dir });
    });
  }

  /** Starts the worker now, so the first reload does not wait for it. */
  warm(): void {
    this.#start();
    this.#armIdle();
  }

  #armIdle(): void {
    if (this.#pending.size > 0) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.close(), this.#idleMs).unref();
  }

  close(): void {
    clearTimeout(this.#idle);
    const w = this.#worker;
    this.#worker = undefined;
    this.#failAll(w, 'policy reader stopped');
    void w?.terminate();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL('./policy-worker.js', import.meta.url));
    worker.unref();
    worker.on('message', (m: WorkerMessage) => this.#onMessage(m));
    worker.on('error', (e) => this.#failAll(worker, `policy reader failed: ${e.message}`));
    worker.on('exit', (code) => this.#failAll(worker, `policy reader exited (code ${code})`));
    this.#worker = worker;
    return worker;
  }

  #onMessage(m: WorkerMessage): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    if (m.type === 'file') p.files.push({ name: m.name, sha256: m.sha256, problems: m.problems, routeChunks: m.hasRoutes ? [] : undefined });
    else if (m.type === 'routes') p.files[p.files.length - 1]!.routeChunks!.push(m.json);
    else {
      this.#pending.delete(m.id);
      this.#armIdle();
      if (m.type === 'done') p.resolve(p.files);
      else p.reject(new VerdictError('POLICY_INVALID', 'invalid policy', { problems: m.problems }));
    }
  }

  #failAll(worker: Worker | undefined, message: string): void {
    if (worker !== undefined && this.#worker === worker) this.#worker = undefined;
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(new VerdictError('POLICY_UNREADABLE', message, { problems: [{ file: '(policy reader)', pointer: '', message }] }));
    }
  }
}

/**
 * Loads a policy folder for a reload without blocking the serving thread for more than
 * a few milliseconds: reading, parsing and schema checks run on a worker thread; the
 * compile to closures (which cannot cross threads) runs here in slices. Throws a
 * VerdictError listing every problem, like `loadPolicyDir`.
 */
export async function loadPolicyDirOffThread(dir: string, parser: PolicyParser): Promise<PolicySet> {
  return compileSliced(await parser.parse(dir));
}

/** The serving-thread half of a reload: compiles parsed files in slices. */
export async function compileSliced(files: readonly ParsedFile[]): Promise<PolicySet> {
  // What a slice compiles survives (it is the new set): collected slice by slice, each
  // young-generation collection stays short (young-collection.ts).
  const result = await runSliced(compileSteps(files, {}), SLICE_MS, collectYoungGeneration);
  if (!result.ok) throw new VerdictError('POLICY_INVALID', 'invalid policy', { problems: result.problems });
  return result.policy;
}
