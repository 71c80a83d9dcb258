import { AggregatorRegistry, type Registry } from 'prom-client';
import type { WorkerRole } from '../app.js';
import { WORKER_ID_ENV, WORKER_RESTART_ENV, isVerdictMessage, type ToPrimary, type ToWorker } from './messages.js';

const METRICS_TIMEOUT_MS = 5000;

// Unheard, a failed send (the primary just died) is an uncaught 'error' on process; the worker
// stops anyway when the channel closes (serve.ts, 'disconnect').
const ignoreSendError = (): void => {};

function send(m: ToPrimary): void {
  if (process.connected) process.send!(m, undefined, undefined, ignoreSendError);
}

/**
 * This process's part in `serve --workers N`: its number, the primary's view of how many
 * workers serve (readiness), and `/metrics` for the whole set (prom-client sums the workers'
 * registries in the primary).
 */
export function workerRole(): WorkerRole & { announceServing(): void; announceStopping(): void } {
  const id = Number(process.env[WORKER_ID_ENV]);
  const restart = process.env[WORKER_RESTART_ENV];
  let allServing = false;
  let nextId = 0;
  const pending = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  process.on('message', (m: unknown) => {
    if (!isVerdictMessage(m)) return;
    const msg = m as ToWorker;
    if (msg.verdict === 'cluster') allServing = msg.serving >= msg.configured;
    else if (msg.verdict === 'metrics') {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.text !== undefined) p.resolve(msg.text);
      else p.reject(new Error(msg.error ?? 'no metrics'));
    }
  });
  return {
    id,
    restartOf: restart ? (JSON.parse(restart) as WorkerRole['restartOf']) : undefined,
    allServing: () => allServing,
    register(registry: Registry) {
      // Installs prom-client's worker-side listener: the primary's clusterMetrics() asks it.
      new AggregatorRegistry();
      AggregatorRegistry.setRegistries([registry]);
    },
    clusterMetrics: () =>
      new Promise<string>((resolve, reject) => {
        const reqId = ++nextId;
        const timer = setTimeout(() => {
          pending.delete(reqId);
          reject(new Error('the primary did not answer with the cluster metrics'));
        }, METRICS_TIMEOUT_MS);
        pending.set(reqId, { resolve, reject, timer });
        send({ verdict: 'metrics-req', id: reqId });
      }),
    announceServing: () => send({ verdict: 'serving' }),
    announceStopping: () => send({ verdict: 'stopping' }),
  };
}
