/** IPC between the `serve --workers` primary and its workers (node:cluster's channel). */
export type ToWorker =
  | { readonly verdict: 'signal'; readonly signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP' }
  | { readonly verdict: 'cluster'; readonly serving: number; readonly configured: number }
  | { readonly verdict: 'metrics'; readonly id: number; readonly text?: string; readonly error?: string };

export type ToPrimary = { readonly verdict: 'serving' } | { readonly verdict: 'stopping' } | { readonly verdict: 'metrics-req'; readonly id: number };

export const WORKER_ID_ENV = 'VERDICT_WORKER_ID';
export const WORKER_RESTART_ENV = 'VERDICT_WORKER_RESTART';

export function isVerdictMessage(m: unknown): m is { verdict: string } {
  return typeof m === 'object' && m !== null && typeof (m as { verdict?: unknown }).verdict === 'string';
}
