import type { AuditRecord } from './record.js';

export interface AuditSummary {
  readonly since: string | null;
  readonly until: string | null;
  readonly decisions: number;
  readonly allowed: number;
  readonly denied: number;
  /** Per key: [allowed, denied]. */
  readonly byRoute: Record<string, [number, number]>;
  readonly byUser: Record<string, [number, number]>;
  readonly byReason: Record<string, number>;
  /** Hour (`YYYY-MM-DDTHH`, UTC) → [allowed, denied]. */
  readonly byHour: Record<string, [number, number]>;
  readonly topDeniedUsers: readonly { user: string; denied: number }[];
  readonly topDenyReasons: readonly { reason: string; denied: number }[];
}

const ANONYMOUS = '(anonymous)';
const NO_ROUTE = '(no route)';

/**
 * Folds decision records (`event.action: authorize`) into counts; control records are not
 * decisions and are skipped. Reasons are counted once per decision that carries them; the
 * "top" lists count denies only.
 */
export class SummaryBuilder {
  #n = 0;
  #allowed = 0;
  #first: string | undefined;
  #last: string | undefined;
  readonly #route = new Map<string, [number, number]>();
  readonly #user = new Map<string, [number, number]>();
  readonly #reason = new Map<string, number>();
  readonly #hour = new Map<string, [number, number]>();
  readonly #deniedUser = new Map<string, number>();
  readonly #denyReason = new Map<string, number>();

  add(r: AuditRecord): void {
    if (r['event.action'] !== 'authorize') return;
    const allow = r['verdict.decision'] === 'allow';
    const i = allow ? 0 : 1;
    this.#n++;
    if (allow) this.#allowed++;
    const time = typeof r.time === 'string' ? r.time : undefined;
    if (time && (this.#first === undefined || time < this.#first)) this.#first = time;
    if (time && (this.#last === undefined || time > this.#last)) this.#last = time;
    const bump = (m: Map<string, [number, number]>, k: string) => {
      const c = m.get(k) ?? [0, 0];
      c[i]++;
      m.set(k, c);
    };
    const user = typeof r['user.email'] === 'string' ? r['user.email'] : typeof r['user.id'] === 'string' ? r['user.id'] : ANONYMOUS;
    bump(this.#route, typeof r['verdict.route'] === 'string' ? r['verdict.route'] : NO_ROUTE);
    bump(this.#user, user);
    if (time) bump(this.#hour, time.slice(0, 13));
    const reasons = Array.isArray(r['verdict.reasons']) ? (r['verdict.reasons'] as unknown[]).filter((x): x is string => typeof x === 'string') : [];
    for (const reason of new Set(reasons)) {
      this.#reason.set(reason, (this.#reason.get(reason) ?? 0) + 1);
      if (!allow) this.#denyReason.set(reason, (this.#denyReason.get(reason) ?? 0) + 1);
    }
    if (!allow) this.#deniedUser.set(user, (this.#deniedUser.get(user) ?? 0) + 1);
  }

  result(top: number): AuditSummary {
    const sorted = <V>(m: Map<string, V>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const ranked = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, top);
    return {
      since: this.#first ?? null,
      until: this.#last ?? null,
      decisions: this.#n,
      allowed: this.#allowed,
      denied: this.#n - this.#allowed,
      byRoute: sorted(this.#route),
      byUser: sorted(this.#user),
      byReason: sorted(this.#reason),
      byHour: sorted(this.#hour),
      topDeniedUsers: ranked(this.#deniedUser).map(([user, denied]) => ({ user, denied })),
      topDenyReasons: ranked(this.#denyReason).map(([reason, denied]) => ({ reason, denied })),
    };
  }
}

/** The summary as text for people: one section per breakdown, counts right-aligned. */
export function summaryText(s: AuditSummary): string {
  const lines: string[] = [];
  lines.push(`decisions: ${s.decisions} (${s.allowed} allowed, ${s.denied} denied), ${s.since ?? '-'} … ${s.until ?? '-'}`);
  const pairs = (title: string, m: Record<string, [number, number]>) => {
    lines.push('', `${title}:${' '.repeat(Math.max(1, 40 - title.length))}allow    deny`);
    for (const [k, [a, d]] of Object.entries(m)) lines.push(`  ${k.padEnd(40)}${String(a).padStart(5)} ${String(d).padStart(7)}`);
  };
  pairs('per route', s.byRoute);
  pairs('per user', s.byUser);
  pairs('per hour (UTC)', s.byHour);
  lines.push('', 'per reason (decisions carrying it):');
  for (const [k, n] of Object.entries(s.byReason)) lines.push(`  ${k.padEnd(40)}${String(n).padStart(5)}`);
  lines.push('', 'top denied users:');
  for (const { user, denied } of s.topDeniedUsers) lines.push(`  ${user.padEnd(40)}${String(denied).padStart(5)}`);
  lines.push('', 'top deny reasons:');
  for (const { reason, denied } of s.topDenyReasons) lines.push(`  ${reason.padEnd(40)}${String(denied).padStart(5)}`);
  return lines.join('\n');
}
