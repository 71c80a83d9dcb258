import { readFileSync, statSync } from 'node:fs';
import { createLocalJWKSet, importSPKI } from 'jose';
import { matches, type AuditQuery } from '../audit/query.js';
import type { AuditRecord } from '../audit/record.js';
import { SummaryBuilder, summaryText } from '../audit/summary.js';
import { verifyLines } from '../audit/verify.js';
import { allReasons } from '../policy/reasons.js';
import { groupByWorker } from '../cluster/audit-path.js';
import { mergedByTime, readAuditLines } from '../audit/read-records.js';
import { err, out, outText, printable } from './io.js';

async function loadKey(file: string) {
  const text = readFileSync(file, 'utf8');
  if (text.includes('BEGIN PUBLIC KEY')) return importSPKI(text, 'ES256');
  // A JWKS: the checkpoint's kid picks the key.
  const jwks = createLocalJWKSet(JSON.parse(text) as never);
  return jwks;
}

const UNSIGNED = 'unsigned: detects edits, not a full rewrite';

export async function auditVerify(files: readonly string[], keyFile: string | undefined, live = false): Promise<number> {
  if (files.length === 0) {
    err('verdict audit verify: name the audit files, oldest first');
    return 2;
  }
  // Every file must be there before the walk starts: a missing one is a usage error (2), not a broken chain.
  for (const f of files) {
    try {
      if (statSync(f).isDirectory()) throw new Error(`${f}: a folder, not an audit file`);
    } catch (e) {
      err(`verdict audit verify: ${(e as Error).message}`);
      return 2;
    }
  }
  let key;
  try {
    key = keyFile ? await loadKey(keyFile) : undefined;
  } catch (e) {
    err(`verdict audit verify: ${keyFile}: not a public key or JWKS: ${(e as Error).message}`);
    return 2;
  }
  // `serve --workers N` writes one chain per worker: each is verified on its own, reported together.
  const groups = groupByWorker(files);
  const several = groups.size > 1 || !groups.has(0);
  let code = 0;
  for (const [worker, names] of groups) {
    const label = several ? (worker === 0 ? 'without worker number: ' : `worker ${worker}: `) : '';
    let r;
    try {
      // Streamed: compressed rotated files (retention_action: compress) are read as they are.
      r = await verifyLines(names, readAuditLines(names), key as never, { live });
    } catch (e) {
      err(`verdict audit verify: ${(e as Error).message}`);
      return 2;
    }
    code = Math.max(code, reportVerify(r, label));
  }
  return code;
}

function reportVerify(r: Awaited<ReturnType<typeof verifyLines>>, label: string): number {
  if (r.problem) {
    out(`${label}${r.problem.file}:${r.problem.line}: seq ${r.problem.seq ?? '?'}: ${r.problem.message}`);
    return 1;
  }
  // Without checked signatures, whoever can write the file can recompute the whole chain.
  const signatures = r.signaturesChecked
    ? ', signatures verified'
    : r.checkpoints > 0 && r.unsignedCheckpoints === r.checkpoints
      ? ` (${UNSIGNED}: the checkpoints carry no signature)`
      : ` (${UNSIGNED}; pass --key to check the checkpoint signatures)`;
  const open = r.openTail;
  if (open && open.records > 0) {
    const sealed = open.firstSeq - 1;
    out(`${label}intact up to seq ${sealed > 0 ? sealed : '-'} (the last checkpoint): ${r.records - open.records} records, ${r.checkpoints} checkpoints${signatures}`);
    out(`${label}open: ${open.records} records, seq ${open.firstSeq}…${open.lastSeq}, chained but not sealed yet (a running server's tail; its next checkpoint seals it)${open.partialLine ? '; a last line still being written was skipped' : ''}`);
    return 0;
  }
  out(`${label}intact: ${r.records} records, seq ${r.firstSeq ?? '-'}…${r.lastSeq ?? '-'}, ${r.checkpoints} checkpoints${signatures}${open?.partialLine ? '; a last line still being written was skipped' : ''}`);
  return 0;
}

function time(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`--${name} is not a time (RFC 3339, e.g. 2026-11-30T08:00:00Z): ${v}`);
  return t;
}

function oneOf(v: string | undefined, name: string, allowed: readonly string[]): string | undefined {
  if (v === undefined || allowed.includes(v)) return v;
  throw new Error(`--${name} ${JSON.stringify(v)} is not one of: ${allowed.join(', ')}`);
}

export interface QueryOptions {
  user?: string | undefined;
  route?: string | undefined;
  decision?: string | undefined;
  reason?: string | undefined;
  'decision-id'?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  format?: string | undefined;
}

/** Validates the filters: a value no record can have is an error naming the allowed ones, not an empty result. */
function parseQuery(o: QueryOptions): AuditQuery {
  const reasons = [...allReasons().keys()].sort();
  const id = o['decision-id'];
  if (id !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
    throw new Error(`--decision-id ${JSON.stringify(id)} is not a decision id (a UUID as the deny page shows it, e.g. 0b7c6a1e-3f4d-4e5a-9b8c-2d1e0f9a8b7c)`);
  }
  const q = {
    user: o.user,
    route: o.route,
    decision: oneOf(o.decision, 'decision', ['allow', 'deny']),
    reason: oneOf(o.reason, 'reason', reasons),
    decisionId: id,
    since: time(o.since, 'since'),
    until: time(o.until, 'until'),
  };
  if (q.since !== undefined && q.until !== undefined && q.since >= q.until) throw new Error('--since must be before --until');
  return q;
}

/**
 * Reads every record of the files in order (several workers' chains merged by `time`); a line
 * that is not JSON is skipped (verify reports it).
 */
async function* records(files: readonly string[]): AsyncGenerator<{ line: string; record: AuditRecord }> {
  for await (const { text: line } of mergedByTime(files)) {
    let record: AuditRecord;
    try {
      record = JSON.parse(line) as AuditRecord;
    } catch {
      continue;
    }
    yield { line, record };
  }
}

const COLUMNS = ['time', 'verdict.decision_id', 'verdict.decision', 'http.response.status_code', 'verdict.route', 'user.id', 'user.email', 'verdict.reasons', 'http.request.method', 'server.address', 'url.path', 'client.address'] as const;
const HEADER = ['time', 'decision_id', 'decision', 'status', 'route', 'user_id', 'user_email', 'reasons', 'method', 'host', 'path', 'client'];

function cell(r: AuditRecord, k: string): string {
  const v = r[k];
  if (v === undefined || v === null) return '';
  return Array.isArray(v) ? v.join(' ') : String(v);
}

/**
 * The table's decision cell: a control-plane record (start, policy reload, shutdown, checkpoint)
 * has no decision, so it shows what it is, `(start)`, instead of a row of blanks. CSV keeps the
 * column to allow/deny (or empty) for the programs that read it.
 */
function tableDecision(r: AuditRecord): string {
  const d = cell(r, 'verdict.decision');
  const action = r['event.action'];
  return d === '' && typeof action === 'string' && action !== 'authorize' ? `(${action})` : d;
}

/** RFC 4180: quoted when needed; a leading =+-@ is prefixed with ' so spreadsheets do not run it. */
function csvField(s: string): string {
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export async function auditQuery(files: readonly string[], o: QueryOptions): Promise<number> {
  if (files.length === 0) {
    err('verdict audit query: name the audit files, oldest first (rotated files in order)');
    return 2;
  }
  let q: AuditQuery;
  let format: string;
  try {
    q = parseQuery(o);
    format = oneOf(o.format, 'format', ['jsonl', 'csv', 'table']) ?? 'jsonl';
  } catch (e) {
    err(`verdict audit query: ${(e as Error).message}`);
    return 2;
  }
  const rows: string[][] = [];
  if (format === 'csv') out(HEADER.join(','));
  try {
    for await (const { line, record } of records(files)) {
      if (!matches(record, q)) continue;
      if (format === 'jsonl') out(line);
      else if (format === 'csv') out(COLUMNS.map((k) => csvField(printable(cell(record, k)))).join(','));
      else rows.push(COLUMNS.map((k) => printable(k === 'verdict.decision' ? tableDecision(record) : cell(record, k))));
    }
  } catch (e) {
    err(`verdict audit query: ${(e as Error).message}`);
    return 2;
  }
  if (format === 'table') {
    const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
    out(fmt(HEADER));
    for (const r of rows) out(fmt(r));
  }
  return 0;
}

export async function auditSummary(files: readonly string[], o: QueryOptions & { top?: string | undefined }): Promise<number> {
  if (files.length === 0) {
    err('verdict audit summary: name the audit files, oldest first (rotated files in order)');
    return 2;
  }
  let q: AuditQuery;
  let format: string;
  let top: number;
  try {
    q = parseQuery(o);
    format = oneOf(o.format, 'format', ['text', 'json']) ?? 'text';
    top = o.top === undefined ? 10 : Number(o.top);
    if (!Number.isInteger(top) || top < 1) throw new Error(`--top ${JSON.stringify(o.top)} is not a positive whole number`);
  } catch (e) {
    err(`verdict audit summary: ${(e as Error).message}`);
    return 2;
  }
  const s = new SummaryBuilder();
  try {
    for await (const { record } of records(files)) if (matches(record, q)) s.add(record);
  } catch (e) {
    err(`verdict audit summary: ${(e as Error).message}`);
    return 2;
  }
  const result = s.result(top);
  if (format === 'json') out(JSON.stringify(result, null, 2));
  else for (const line of summaryText(result).split('\n')) outText(line);
  return 0;
}
