import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { WORKER_ID_ENV, WORKER_RESTART_ENV, isVerdictMessage, type ToPrimary, type ToWorker } from './messages.js';

type Signal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';

const ignoreSendError = (): void => {};

/** Restart backoff: 100 ms doubling to 10 s; a worker that served 30 s resets it. */
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 10_000;
const STABLE_MS = 30_000;

interface Slot {
  readonly id: number;
  worker: Worker | undefined;
  serving: boolean;
  servedAt: number | undefined;
  /** Restarts in a row without a stable run between them (drives the backoff). */
  failures: number;
  restarts: number;
  timer: NodeJS.Timeout | undefined;
}

export interface Primary {
  /** Forwards a signal to every worker (and to workers forked later during startup). */
  signal(signal: Signal): void;
  /** Resolves with the exit code once every worker has exited after a stop (0: all clean). */
  readonly done: Promise<number>;
}

/**
 * The `serve --workers N` primary: forks N workers that share the gRPC and HTTP ports
 * (node:cluster), restarts a worker that dies (with backoff), tells workers how many serve
 * (their `/readyz`), answers `/metrics` for the set, and forwards SIGTERM/SIGINT/SIGHUP.
 * It binds nothing and decides nothing: each worker is the whole of `app.ts`.
 */
export function startPrimary(n: number, log: Logger): Primary {
  const registry = new Registry();
  const restartsTotal = new Counter({ name: 'verdict_worker_restarts_total', help: 'Workers restarted after they died, by worker number.', labelNames: ['worker'], registers: [registry] });
  const servingGauge = new Gauge({ name: 'verdict_workers_serving', help: 'Workers serving (readiness is 503 while fewer than verdict_workers_configured).', registers: [registry] });
  const configuredGauge = new Gauge({ name: 'verdict_workers_configured', help: 'Workers configured (serve --workers / workers).', registers: [registry] });
  configuredGauge.set(n);
  const aggregator = new AggregatorRegistry();
  const slots: Slot[] = Array.from({ length: n }, (_, i) => ({ id: i + 1, worker: undefined, serving: false, servedAt: undefined, failures: 0, restarts: 0, timer: undefined }));
  const stopSignals: Signal[] = [];
  let stopping = false;
  let everServed = false;
  let failedStart = false;
  let exitCode = 0;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));

  // A worker that just died may still look connected: the send then fails (EPIPE) after the
  // fact. Its 'exit' handles the worker; the failed message only matters to that worker.
  const send = (s: Slot, m: ToWorker): void => {
    if (s.worker?.isConnected()) s.worker.send(m, ignoreSendError);
  };
  const broadcast = (): void => {
    const serving = slots.filter((s) => s.serving).length;
    servingGauge.set(serving);
    const m: ToWorker = { verdict: 'cluster', serving, configured: n };
    for (const s of slots) send(s, m);
  };
  const allExited = (): boolean => slots.every((s) => s.worker === undefined && s.timer === undefined);

  const fork = (slot: Slot, restartOf?: { exitCode: number | null; signal: string | null; restarts: number }): void => {
    slot.timer = undefined;
    const env: Record<string, string> = { [WORKER_ID_ENV]: String(slot.id) };
    if (restartOf) env[WORKER_RESTART_ENV] = JSON.stringify(restartOf);
    const w = cluster.fork(env);
    slot.worker = w;
    slot.serving = false;
    // IPC errors (a send to a worker that has just died, also prom-client's own metric requests)
    // are emitted here; unheard, they would crash the primary and take every worker with it.
    w.on('error', (e: Error) => log.debug({ worker: slot.id, err: e.message }, 'message to a worker failed'));
    // A stop that came before this worker existed reaches it too (counted: a third still forces).
    w.once('online', () => {
      for (const sig of stopSignals) send(slot, { verdict: 'signal', signal: sig });
    });
    w.on('message', (m: unknown) => {
      if (!isVerdictMessage(m)) return;
      const msg = m as ToPrimary;
      if (msg.verdict === 'serving') {
        slot.serving = true;
        slot.servedAt = Date.now();
        everServed = true;
        log.info({ worker: slot.id, pid: w.process.pid }, 'worker serving');
        broadcast();
      } else if (msg.verdict === 'stopping') {
        slot.serving = false;
        broadcast();
      } else if (msg.verdict === 'metrics-req') {
        void metricsText().then(
          (text) => send(slot, { verdict: 'metrics', id: msg.id, text }),
          (e: unknown) => send(slot, { verdict: 'metrics', id: msg.id, error: (e as Error).message }),
        );
      }
    });
    w.on('exit', (code, signal) => {
      const served = slot.servedAt !== undefined ? Date.now() - slot.servedAt : 0;
      slot.worker = undefined;
      slot.serving = false;
      slot.servedAt = undefined;
      broadcast();
      if (stopping || failedStart) {
        if (code !== 0) exitCode = exitCode || (failedStart ? 2 : 1);
        log.info({ worker: slot.id, code, signal }, 'worker stopped');
        if (allExited()) resolveDone(exitCode);
        return;
      }
      if (!everServed) {
        // Refused at start (its stderr says why): the others would be refused too; stop them.
        failedStart = true;
        exitCode = code && code > 0 ? code : 2;
        log.error({ worker: slot.id, code, signal }, 'worker refused to start; stopping the others');
        for (const s of slots) send(s, { verdict: 'signal', signal: 'SIGTERM' });
        if (allExited()) resolveDone(exitCode);
        return;
      }
      slot.failures = served >= STABLE_MS ? 1 : slot.failures + 1;
      slot.restarts++;
      restartsTotal.inc({ worker: String(slot.id) });
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (slot.failures - 1));
      log.error({ worker: slot.id, code, signal, restart_in_ms: delay, restarts: slot.restarts }, 'worker died; restarting it');
      slot.timer = setTimeout(() => fork(slot, { exitCode: code, signal, restarts: slot.restarts }), delay);
    });
  };

  const metricsText = async (): Promise<string> => {
    const workers = await aggregator.clusterMetrics();
    return `${workers.trimEnd()}\n${await registry.metrics()}`;
  };

  for (const slot of slots) fork(slot);
  broadcast();

  return {
    done,
    signal(sig) {
      if (sig !== 'SIGHUP') {
        stopSignals.push(sig);
        if (!stopping) {
          stopping = true;
          // A worker waiting out its restart backoff is not started again.
          for (const s of slots) {
            if (s.timer) clearTimeout(s.timer);
            s.timer = undefined;
          }
        }
      }
      for (const s of slots) send(s, { verdict: 'signal', signal: sig });
      if (stopping && allExited()) resolveDone(exitCode);
    },
  };
}
