/** One lint finding: where in which policy file, a stable code, and what to do about it. */
export interface Finding {
  readonly file: string;
  readonly pointer: string;
  readonly severity: 'error' | 'warning';
  readonly code: LintCode;
  readonly message: string;
}

/** Every finding code `verdict lint` can report; the README's table is checked against it. */
export const LINT_CODES = {
  'shadowed-route': 'the route can never match: an earlier route matches every request it matches (error; a warning with policies.require_route_id, where Envoy binds routes by id)',
  'overlapping-routes': 'two routes match some of the same requests (neither contains the other) with different rules: the earlier wins there, as in Envoy (warning)',
  'constant-rule': 'a rule is always true or always false whatever the request: `accept` under `and` with `reject`, `not accept`, an empty time window or date range (warning)',
  'anonymous-allow': 'the allow rule admits requests without an identity, while the route\'s rules name users, groups, emails, domains or claims (warning)',
  'regex-matches-everything': 'a regular expression matches every value tried, so it restricts nothing (warning)',
  'regex-matches-nothing': 'a regular expression can never match (an anchor in the middle of the pattern) (warning)',
  'host-without-test': 'no policy test case sends a request to this host (warning)',
} as const;

export type LintCode = keyof typeof LINT_CODES;
