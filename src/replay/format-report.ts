import { flips, type ReplayReport } from './replay.js';

const ORDER = ['deny → allow', 'allow → deny', 'same decision, other reasons'];

function sortedGroups(report: ReplayReport) {
  return [...report.changes.values()].sort((a, b) => ORDER.indexOf(a.change) - ORDER.indexOf(b.change) || b.count - a.count || (a.route < b.route ? -1 : 1));
}

/** The report for machines: plain JSON, stable key order. */
export function reportJson(report: ReplayReport, policyHash: string): Record<string, unknown> {
  return {
    policy_hash: policyHash,
    records: report.records,
    replayed: report.replayed,
    unchanged: report.unchanged,
    flipped: flips(report),
    undecidable: report.undecidableRecords,
    skipped: Object.fromEntries(report.skipped),
    changes: sortedGroups(report).map((g) => ({
      route: g.route,
      change: g.change,
      count: g.count,
      users: g.users.size,
      examples: g.examples.map((e) => ({
        decision_id: e.decisionId,
        time: e.time,
        user: e.user ?? null,
        method: e.method ?? null,
        host: e.host ?? null,
        path: e.path ?? null,
        old: { route: e.oldRoute ?? null, status: e.oldStatus, reasons: e.oldReasons },
        new: { status: e.newStatus, reasons: e.newReasons },
      })),
    })),
    undecidable_facts: [...report.undecidable.values()].sort((a, b) => b.count - a.count).map((g) => ({ fact: g.fact, count: g.count, examples: g.examples })),
  };
}

/**
 * Recorded values (paths, hosts, user ids) are attacker-influenced and the text report is
 * meant for pull-request comments: no control characters, and nothing Markdown or HTML
 * would interpret in a table cell.
 */
const plain = (v: string): string => v.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
const cell = (v: string): string => plain(v).replace(/[\\`*_[\]<>|#!~&]/g, (c) => `\\${c}`);

/** The report for a pull-request comment: one table of changes, then examples in a code block. */
export function reportText(report: ReplayReport, policyHash: string): string[] {
  const lines: string[] = [];
  const skipped = [...report.skipped].map(([k, v]) => `${v} ${k}`).join(', ');
  lines.push(`replayed ${report.replayed} of ${report.records} records against policy ${policyHash.slice(0, 12)}: ${report.unchanged} unchanged, ${flips(report)} flipped, ${report.undecidableRecords} undecidable${skipped ? `; skipped ${skipped}` : ''}`);
  const groups = sortedGroups(report);
  if (groups.length > 0) {
    lines.push('', '| route | change | decisions | users |', '| --- | --- | --- | --- |');
    for (const g of groups) lines.push(`| ${cell(g.route)} | ${g.change} | ${g.count} | ${g.users.size} |`);
    // Examples in one fenced block, each line indented four spaces: nothing in them renders,
    // and no recorded value can close the fence.
    lines.push('', '```text');
    for (const g of groups) {
      lines.push(`${plain(g.route)}: ${g.change} (${g.count})`);
      for (const e of g.examples) {
        lines.push(plain(`    ${e.decisionId} ${e.time} ${e.user ?? '(anonymous)'} ${e.method ?? '-'} ${e.host ?? '-'}${e.path ?? ''}: ${e.oldStatus} [${e.oldReasons.join(', ')}] → ${e.newStatus} [${e.newReasons.join(', ')}]`));
      }
    }
    lines.push('```');
  }
  if (report.undecidable.size > 0) {
    lines.push('', 'undecidable (the record lacks a fact the new policy reads; never guessed):');
    for (const g of [...report.undecidable.values()].sort((a, b) => b.count - a.count)) lines.push(`  ${g.count} × ${g.fact}, e.g. ${g.examples.join(', ')}`);
  }
  return lines;
}
