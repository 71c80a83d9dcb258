import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { prepareAuditKey, startVerdict, type RunningVerdict } from '../app.js';
import { workerAuditPath } from '../cluster/audit-path.js';
import { isVerdictMessage, type ToWorker } from '../cluster/messages.js';
import { startPrimary } from '../cluster/primary.js';
import { workerRole } from '../cluster/worker.js';
import type { Config } from '../config/config.js';
import { loadConfig } from '../config/load-config.js';
import { VerdictError } from '../errors.js';
import { createOpsLog } from '../ops-log.js';
import { err, oneLine, problemsOf } from './io.js';

type StopSignal = 'SIGTERM' | 'SIGINT';

/**
 * SIGTERM/SIGINT handling for the whole life of `serve`, installed before anything else so
 * no signal ever meets the default action (which would kill the process mid-write and leave
 * the audit chain unsealed). The first signal stops gracefully — after startup completes if it
 * is still under way; a second one is acknowledged and changes nothing; a third forces the
 * stop (drain and grace cut short), which still records the shutdown and seals the chain.
 *
 * In a `--workers` worker the primary forwards every signal over IPC; a SIGINT the terminal
 * sends to the whole process group is ignored there (the primary's copy is the one that counts),
 * and a worker whose primary went away stops as if sent SIGTERM.
 */
class SignalLifecycle {
  #count = 0;
  #first: StopSignal | undefined;
  #app: RunningVerdict | undefined;
  #log: ((msg: string, fields: Record<string, unknown>) => void) | undefined;
  #wake: (() => void) | undefined;
  readonly #received: StopSignal[] = [];
  #forward: ((signal: StopSignal) => void) | undefined;
  readonly #handlers = new Map<StopSignal, () => void>();

  constructor(inWorker: boolean) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const handler = inWorker && signal === 'SIGINT' ? () => {} : () => this.receive(signal);
      this.#handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  /** The signal received so far, if any. */
  get signal(): StopSignal | undefined {
    return this.#first;
  }

  setLog(log: (msg: string, fields: Record<string, unknown>) => void): void {
    this.#log = log;
  }

  /** The primary: every stop signal, those already received first, goes to `to`. */
  forward(to: (signal: StopSignal) => void): void {
    this.#forward = to;
    for (const s of this.#received) to(s);
  }

  receive(signal: StopSignal): void {
    this.#count++;
    this.#first ??= signal;
    this.#received.push(signal);
    this.#forward?.(signal);
    if (this.#count === 1) {
      this.#log?.('shutting down', { signal });
      this.#wake?.();
    } else if (this.#count === 2) {
      this.#log?.('shutdown already in progress; a third signal forces it', { signal });
    } else {
      this.#log?.('forcing shutdown: cutting in-flight requests, sealing the audit trail', { signal });
      void this.#app?.stop(this.#first, { force: true });
    }
  }

  /** Resolves with the first stop signal (at once if one came during startup). */
  async until(app: RunningVerdict): Promise<StopSignal> {
    this.#app = app;
    if (this.#first === undefined) await new Promise<void>((resolve) => (this.#wake = resolve));
    // A third signal that came during startup forces the stop as soon as there is one.
    if (this.#count >= 3) void app.stop(this.#first, { force: true });
    return this.#first!;
  }

  remove(): void {
    for (const [signal, handler] of this.#handlers) process.off(signal, handler);
  }
}

/** `--workers` (or the `workers` key): a count, or `auto` for the cores this process may use. */
function workerCount(flag: string | undefined, config: Config): number {
  const where = flag !== undefined ? { file: '--workers', pointer: '' } : { file: config.file ?? '(built-in defaults)', pointer: '/workers' };
  const v = flag ?? config.workers;
  if (v === 'auto') return availableParallelism();
  const n = typeof v === 'number' ? v : /^[1-9][0-9]{0,2}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new VerdictError('CONFIG_INVALID', 'bad worker count', { problems: [{ ...where, message: `workers must be a whole number from 1 to 256, or auto (got ${String(v)})` }] });
  return n;
}

/** What cannot be per process with several workers: refused at start, naming the setting. */
function refuseForWorkers(n: number, config: Config): void {
  if (n <= 1) return;
  const file = config.file ?? '(built-in defaults)';
  if (config.identity.session.store.type !== 'redis') {
    throw new VerdictError('CONFIG_INVALID', 'memory session store with workers', {
      problems: [{ file, pointer: '/identity/session/store/type', message: `workers: ${n} needs the redis session store: sessions and admin suspensions must be shared by every worker, and a memory store would keep them per worker (set identity.session.store.type to redis, or run one worker)` }],
    });
  }
  if (config.audit.sink !== 'file') {
    throw new VerdictError('CONFIG_INVALID', 'stdout audit with workers', {
      problems: [{ file, pointer: '/audit/sink', message: `workers: ${n} needs audit.sink file: each worker writes its own hash chain (audit.path with its number), and chains interleaved on stdout cannot be verified` }],
    });
  }
}

export async function serve(configFile: string | undefined, workersFlag?: string): Promise<number> {
  const inWorker = cluster.isWorker;
  const signals = new SignalLifecycle(inWorker);
  // SIGHUP (reload) during startup must not kill the process either: the policy is read anyway.
  const ignoreHup = () => {};
  process.on('SIGHUP', ignoreHup);
  let config;
  let n;
  try {
    config = loadConfig(configFile);
    n = workerCount(workersFlag, config);
    refuseForWorkers(n, config);
  } catch (e) {
    err(`verdict: refusing to start: ${oneLine(problemsOf(e, configFile ?? '(config)'))}`);
    return 2;
  }
  const log = createOpsLog(config.log.level);
  signals.setLog((msg, fields) => log.info(fields, msg));
  if (signals.signal) log.info({ signal: signals.signal }, 'signal received during startup; stopping once started');
  if (!inWorker && n > 1) {
    try {
      await prepareAuditKey(config, log);
    } catch (e) {
      err(`verdict: refusing to start: ${oneLine(problemsOf(e, config.file ?? '(config)'))}`);
      return 2;
    }
    return runPrimary(n, log, signals, ignoreHup);
  }

  const worker = inWorker ? workerRole() : undefined;
  let hupFromPrimary = () => {};
  const onIpc = (m: unknown) => {
    if (!isVerdictMessage(m) || m.verdict !== 'signal') return;
    const sig = (m as Extract<ToWorker, { verdict: 'signal' }>).signal;
    if (sig === 'SIGHUP') hupFromPrimary();
    else signals.receive(sig);
  };
  // The primary gone (killed): nobody forwards signals or restarts; stop cleanly.
  const onDisconnect = () => signals.receive('SIGTERM');
  if (worker) {
    process.on('message', onIpc);
    process.on('disconnect', onDisconnect);
    config = { ...config, audit: { ...config.audit, path: workerAuditPath(config.audit.path!, worker.id) } };
  }
  let app;
  try {
    app = await startVerdict(config, { log: worker ? log.child({ worker: worker.id }) : log, generateAuditKey: true, worker });
  } catch (e) {
    err(`verdict: refusing to start: ${oneLine(problemsOf(e, config.file ?? config.policies.dir))}`);
    return 2;
  }
  const onHup = () => {
    // The logrotate convention: SIGHUP reopens the audit file; it also re-reads the policies.
    app.reopenAudit();
    void app.reload();
  };
  hupFromPrimary = onHup;
  process.on('SIGHUP', onHup);
  process.off('SIGHUP', ignoreHup);
  worker?.announceServing();
  const signal = await signals.until(app);
  worker?.announceStopping();
  try {
    await app.stop(signal);
    return 0;
  } catch (e) {
    err(`verdict: shutdown failed: ${(e as Error).message}`);
    return 1;
  } finally {
    process.off('SIGHUP', onHup);
    process.off('SIGHUP', ignoreHup);
    process.off('message', onIpc);
    process.off('disconnect', onDisconnect);
    signals.remove();
  }
}

/** `serve --workers N` in the primary: forks, forwards signals, exits when every worker has. */
async function runPrimary(n: number, log: ReturnType<typeof createOpsLog>, signals: SignalLifecycle, ignoreHup: () => void): Promise<number> {
  log.info({ workers: n }, 'starting workers');
  const primary = startPrimary(n, log);
  signals.forward((s) => primary.signal(s));
  const onHup = () => primary.signal('SIGHUP');
  process.on('SIGHUP', onHup);
  process.off('SIGHUP', ignoreHup);
  try {
    const code = await primary.done;
    log.info({ code }, code === 0 ? 'all workers stopped' : 'workers stopped');
    return code;
  } finally {
    process.off('SIGHUP', onHup);
    signals.remove();
  }
}
