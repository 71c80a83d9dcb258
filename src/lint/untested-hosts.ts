import { pointerJoin } from '../policy/compile-error.js';
import { normalizeHost } from '../policy/host-pattern.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { Finding } from './finding.js';

/** Route hosts that no test case sends a request to (a wildcard counts when a case host is under it). */
export function untestedHosts(policy: PolicySet, caseHosts: ReadonlySet<string>): Finding[] {
  const hosts = [...caseHosts].map(normalizeHost);
  const findings: Finding[] = [];
  for (const route of policy.routes) {
    const list = (route.source.match as { hosts?: string[] } | undefined)?.hosts ?? [];
    list.forEach((raw, i) => {
      const h = normalizeHost(raw);
      const tested = h.startsWith('*.') ? hosts.some((c) => c.length > h.length - 1 && c.endsWith(h.slice(1))) : hosts.includes(h);
      if (!tested) {
        findings.push({ file: route.file, pointer: pointerJoin(pointerJoin(pointerJoin(route.pointer, 'match'), 'hosts'), i), severity: 'warning', code: 'host-without-test', message: `no test case sends a request to ${raw} (route ${route.id})` });
      }
    });
  }
  return findings;
}
