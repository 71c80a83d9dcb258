import { startVerdict, type RunningVerdict } from '../app.js';
import { loadConfig } from '../config/load-config.js';
import { createOpsLog } from '../ops-log.js';
import { err, oneLine, problemsOf } from './io.js';

type StopSignal = 'SIGTERM' | 'SIGINT';

/**
 * SIGTERM/SIGINT handling for the whole life of `serve`, installed before anything else so
 * no signal ever meets the default action (which would kill the process mid-write and leave
 * the audit chain unsealed). The first signal stops gracefully — after startup completes if it
 * is still under way; a second one is acknowledged and changes nothing; a third forces the
 * stop (drain and grace cut short), which still records the shutdown and seals the chain.
 */
class SignalLifecycle {
  #count = 0;
  #first: StopSignal | undefined;
  #app: RunningVerdict | undefined;
  #log: ((msg: string, fields: Record<string, unknown>) => void) | undefined;
  #wake: (() => void) | undefined;
  readonly #handlers = new Map<StopSignal, () => void>();

  constructor() {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const handler = () => this.#receive(signal);
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

  #receive(signal: StopSignal): void {
    this.#count++;
    this.#first ??= signal;
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

export async function serve(configFile: string | undefined): Promise<number> {
  const signals = new SignalLifecycle();
  // SIGHUP (reload) during startup must not kill the process either: the policy is read anyway.
  const ignoreHup = () => {};
  process.on('SIGHUP', ignoreHup);
  let config;
  try {
    config = loadConfig(configFile);
  } catch (e) {
    err(`verdict: refusing to start: ${oneLine(problemsOf(e, configFile ?? '(config)'))}`);
    return 2;
  }
  const log = createOpsLog(config.log.level);
  signals.setLog((msg, fields) => log.info(fields, msg));
  if (signals.signal) log.info({ signal: signals.signal }, 'signal received during startup; stopping once started');
  let app;
  try {
    app = await startVerdict(config, { log, generateAuditKey: true });
  } catch (e) {
    err(`verdict: refusing to start: ${oneLine(problemsOf(e, config.file ?? config.policies.dir))}`);
    return 2;
  }
  const onHup = () => {
    // The logrotate convention: SIGHUP reopens the audit file; it also re-reads the policies.
    app.reopenAudit();
    void app.reload();
  };
  process.on('SIGHUP', onHup);
  process.off('SIGHUP', ignoreHup);
  const signal = await signals.until(app);
  try {
    await app.stop(signal);
    return 0;
  } catch (e) {
    err(`verdict: shutdown failed: ${(e as Error).message}`);
    return 1;
  } finally {
    process.off('SIGHUP', onHup);
    process.off('SIGHUP', ignoreHup);
    signals.remove();
  }
}
