import type { Problem } from '../errors.js';
import { claimsToPrincipal } from '../identity/claims-to-principal.js';
import { evaluate } from '../policy/evaluate.js';
import type { PolicySet } from '../policy/policy-set.js';
import { factsFromCheckRequest } from '../request/from-check-request.js';
import { compileSchema } from '../schema-validator.js';
import { denial, type Decision } from '../policy/decision.js';
import type { Principal } from '../identity/principal.js';
import type { RequestFacts } from '../request/facts.js';
import { policyTestSchema } from './schema.js';

export interface TestCase {
  name: string;
  request: { method: string; host?: string; path: string; scheme?: string; headers?: Record<string, string>; source_ip?: string; route?: string };
  identity?: Record<string, unknown> & { sub: string };
  now?: string;
  expect: { decision: 'allow' | 'deny'; status?: number; reasons?: string[] };
}

export interface CaseResult {
  readonly file: string;
  readonly name: string;
  readonly passed: boolean;
  /** One entry per field that differs. */
  readonly differences: readonly string[];
}

const checkTestFile = compileSchema(policyTestSchema());
/** Cases without `now` run at a fixed instant so their results do not change by the hour. */
export const DEFAULT_TEST_NOW = '2026-01-05T12:00:00Z';
const TEST_ISSUER = 'verdict-test';

export function parseTestFile(file: string, text: string): { cases: TestCase[] } | Problem {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { file, pointer: '', message: `not valid JSON: ${(e as Error).message}` };
  }
  const problems = checkTestFile(doc);
  if (problems.length > 0) return { file, ...problems[0]! };
  return doc as { cases: TestCase[] };
}

/** What a case asks, as `evaluate` sees it: facts, identity and time (undefined: refused before). */
export interface CaseInput {
  readonly facts: RequestFacts;
  readonly principal: Principal | undefined;
  readonly nowMs: number;
}

/** The request facts and identity of a case, built as `serve` builds them; a Decision when refused. */
export function caseInput(c: TestCase, defaultIssuers?: ReadonlySet<string>): CaseInput | Decision {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.request.headers ?? {})) headers[k.toLowerCase()] = v;
  const built = factsFromCheckRequest(
    {
      attributes: {
        source: c.request.source_ip === undefined ? undefined : { address: { socket_address: { address: c.request.source_ip, port_value: 50000 } } },
        request: { http: { method: c.request.method, host: c.request.host ?? '', path: c.request.path, scheme: c.request.scheme ?? 'https', headers } },
        context_extensions: c.request.route === undefined ? undefined : { route: c.request.route },
      },
    },
    { xffTrustedHops: 0 },
  );
  if (!built.ok) return denial(400, [built.reason], built.facts.routeId, built.detail);
  let principal;
  if (c.identity) {
    // Without `iss`, the identity comes from the default issuer (the one routes trust by default).
    const iss = defaultIssuers === undefined ? TEST_ISSUER : [...defaultIssuers][0]!;
    const p = claimsToPrincipal('jwt', { iss, ...c.identity }, { groupsClaim: 'groups' });
    if (typeof p === 'string') throw new Error(p);
    principal = p;
  }
  return { facts: built.facts, principal, nowMs: Date.parse(c.now ?? DEFAULT_TEST_NOW) };
}

/** Runs one case through the same request normalization and evaluation as `serve`. */
export function decideCase(policy: PolicySet, c: TestCase, requireRouteId: boolean, defaultIssuers?: ReadonlySet<string>): Decision {
  const input = caseInput(c, defaultIssuers);
  if (!('facts' in input)) return input;
  return evaluate(policy, input.facts, input.principal, input.nowMs, { requireRouteId, defaultIssuers });
}

export function runCase(policy: PolicySet, file: string, c: TestCase, requireRouteId: boolean, defaultIssuers?: ReadonlySet<string>): CaseResult {
  const d = decideCase(policy, c, requireRouteId, defaultIssuers);
  const differences: string[] = [];
  const got = d.allow ? 'allow' : 'deny';
  if (got !== c.expect.decision) differences.push(`decision: expected ${c.expect.decision}, got ${got}`);
  if (c.expect.status !== undefined && c.expect.status !== d.status) differences.push(`status: expected ${c.expect.status}, got ${d.status}`);
  if (c.expect.reasons !== undefined) {
    const want = new Set(c.expect.reasons);
    const have = new Set(d.reasons);
    const missing = [...want].filter((r) => !have.has(r));
    const extra = [...have].filter((r) => !want.has(r));
    if (missing.length > 0 || extra.length > 0) {
      differences.push(`reasons: expected ${JSON.stringify([...want].sort())}, got ${JSON.stringify([...have].sort())}`);
    }
  } else if (differences.length > 0) {
    // Not asked for, but why it came out otherwise is the first thing to know (a route id
    // that no policy defines shows as route-not-found).
    differences.push(`reasons: got ${JSON.stringify([...d.reasons].sort())}`);
  }
  if (differences.length > 0 && d.detail !== undefined) differences.push(`detail: ${d.detail}`);
  return { file, name: c.name, passed: differences.length === 0, differences };
}
