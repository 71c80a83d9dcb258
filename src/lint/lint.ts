import { pointerJoin } from '../policy/compile-error.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { Finding } from './finding.js';
import { regexExtremes } from './regex-extremes.js';
import { routeOrder } from './route-order.js';
import { analyzeRule, namesIdentity } from './rule-analysis.js';
import { untestedHosts } from './untested-hosts.js';

export interface LintOptions {
  readonly requireRouteId: boolean;
  /** Hosts of the policy test cases; undefined when there are no test files to compare with. */
  readonly caseHosts: ReadonlySet<string> | undefined;
}

/** Static analysis of a compiled (valid) policy set; findings in file and pointer order. */
export function lintPolicy(policy: PolicySet, options: LintOptions): Finding[] {
  const findings = routeOrder(policy, options.requireRouteId);
  for (const route of policy.routes) {
    const src = route.source as { allow?: unknown; deny?: unknown; shadow?: { allow?: unknown; deny?: unknown } };
    const rules: [string, unknown][] = [
      ['allow', src.allow],
      ['deny', src.deny],
      ['shadow/allow', src.shadow?.allow],
      ['shadow/deny', src.shadow?.deny],
    ];
    const facts = new Map<string, ReturnType<typeof analyzeRule>>();
    for (const [name, rule] of rules) {
      if (rule === undefined) continue;
      const at = name.split('/').reduce((p, k) => pointerJoin(p, k), route.pointer);
      facts.set(name, analyzeRule(rule, at, (pointer, value, because) =>
        findings.push({ file: route.file, pointer, severity: 'warning', code: 'constant-rule', message: `always ${value ? 'true' : 'false'}: ${because}` }),
      ));
    }
    // What a request without identity gets: deny first, as evaluate.ts decides.
    const allow = facts.get('allow');
    const denyCanBeFalse = !facts.get('deny') || facts.get('deny')!.anonymous.has('F');
    if (allow?.anonymous.has('T') && denyCanBeFalse && (namesIdentity(src.allow) || namesIdentity(src.deny))) {
      findings.push({
        file: route.file,
        pointer: pointerJoin(route.pointer, 'allow'),
        severity: 'warning',
        code: 'anonymous-allow',
        message: `route ${route.id} lets requests without any identity through, although its rules name users, groups, emails, domains or claims; if that is meant, say so with a separate public route`,
      });
    }
    findings.push(...regexExtremes(route));
  }
  if (options.caseHosts) findings.push(...untestedHosts(policy, options.caseHosts));
  return findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : comparePointers(a.pointer, b.pointer)));
}

/** File order: `/routes/2` before `/routes/10`. */
function comparePointers(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    const m = Number(x[i]);
    const n = Number(y[i]);
    if (Number.isInteger(m) && Number.isInteger(n)) return m - n;
    return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}
