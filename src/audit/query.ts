import type { AuditRecord } from './record.js';

export interface AuditQuery {
  readonly user?: string | undefined;
  readonly route?: string | undefined;
  readonly decision?: string | undefined;
  readonly reason?: string | undefined;
  /** The id a deny page shows the user (`verdict.decision_id`). */
  readonly decisionId?: string | undefined;
  /** Milliseconds since the epoch. */
  readonly since?: number | undefined;
  readonly until?: number | undefined;
}

/** Whether a record matches every filter given (the export path of `verdict audit query`). */
export function matches(r: AuditRecord, q: AuditQuery): boolean {
  if (q.user !== undefined && r['user.id'] !== q.user && r['user.email'] !== q.user) return false;
  if (q.decisionId !== undefined && r['verdict.decision_id'] !== q.decisionId) return false;
  if (q.route !== undefined && r['verdict.route'] !== q.route) return false;
  if (q.decision !== undefined && r['verdict.decision'] !== q.decision) return false;
  if (q.reason !== undefined && !(Array.isArray(r['verdict.reasons']) && r['verdict.reasons'].includes(q.reason))) return false;
  if (q.since !== undefined || q.until !== undefined) {
    const t = Date.parse(String(r.time));
    if (Number.isNaN(t)) return false;
    if (q.since !== undefined && t < q.since) return false;
    if (q.until !== undefined && t >= q.until) return false;
  }
  return true;
}
