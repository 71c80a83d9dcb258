import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { Metrics } from '../../../src/servers/metrics.js';
import { requireTool, toolPath } from '../../helpers/tools.js';

const RULES = 'deploy/prometheus/verdict-alerts.yaml';
const RULE_TESTS = 'deploy/prometheus/verdict-alerts.test.yaml';
const DASHBOARD = 'deploy/grafana/verdict-dashboard.json';

interface Panel { id: number; title: string; datasource: { uid: string }; gridPos: Record<string, number>; targets: { expr: string; datasource: { uid: string } }[] }

/** Metric names an expression reads (histogram series map to their histogram). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(verdict_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
}

async function exported(): Promise<Set<string>> {
  const m = new Metrics();
  m.readiness(() => true); // as app.ts registers it
  return new Set((await m.registry.getMetricsAsJSON()).map((x) => x.name));
}

describe('dashboards and alerts (deploy/)', () => {
  it('promtool accepts the alerting rules and their unit tests pass', (t) => {
    if (!requireTool(t, 'promtool')) return;
    const check = spawnSync(toolPath('promtool'), ['check', 'rules', RULES], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /SUCCESS: 7 rules found/);
    const test = spawnSync(toolPath('promtool'), ['test', 'rules', RULE_TESTS], { encoding: 'utf8' });
    assert.equal(test.status, 0, test.stdout + test.stderr);
  });

  it('every rule has a unit test that fires it', () => {
    const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const fired = new Set(tests.tests.flatMap((x) => x.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    assert.deepEqual(rules.filter((r) => !fired.has(r)), []);
  });

  it('the rules and the dashboard read only metrics Verdict exports', async () => {
    const have = await exported();
    const rules = readFileSync(RULES, 'utf8');
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
    const used = new Set([...metricsIn(rules), ...dashboard.panels.flatMap((p) => p.targets.flatMap((q) => metricsIn(q.expr)))]);
    assert.ok(used.size >= 10, [...used].join(', '));
    assert.deepEqual([...used].filter((m) => !have.has(m)), []);
  });

  it('the dashboard: unique panel ids, the datasource variable everywhere, decisions, latency, identity, audit, reloads and sessions', () => {
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
    assert.deepEqual(d.templating.list.map((v) => v.name), ['datasource', 'instance']);
    assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length);
    for (const p of d.panels) {
      assert.equal(p.datasource.uid, '${datasource}', p.title);
      assert.ok(p.targets.length > 0 && p.targets.every((q) => q.datasource.uid === '${datasource}' && q.expr.includes('$instance')), p.title);
    }
    const all = d.panels.flatMap((p) => p.targets.map((q) => q.expr)).join('\n');
    for (const m of ['verdict_decisions_total', 'verdict_decision_reasons_total', 'verdict_check_duration_seconds_bucket', 'verdict_token_cache_total', 'verdict_jwks_fetches_total', 'verdict_audit_write_seconds_bucket', 'verdict_audit_failures_total', 'verdict_policy_reloads_total', 'verdict_ready']) {
      assert.ok(all.includes(m), m);
    }
  });
});

describe('the metrics table (README)', () => {
  it('lists exactly the metrics Verdict exports, beside the process metrics', async () => {
    const readme = readFileSync('README.md', 'utf8');
    // The --workers primary's own metrics (src/cluster) are documented beside them.
    const documented = new Set([...readme.matchAll(/^\| `(verdict_[a-z0-9_]+)` \| (counter|gauge|histogram) \|/gm)].map((m) => m[1]!).filter((n) => !/^verdict_workers?_/.test(n)));
    const code = [...(await exported())].filter((n) => !/^verdict_(process|nodejs)_/.test(n));
    assert.deepEqual([...documented].sort(), code.sort());
  });
});
