/**
 * The answer of the policy core. `status` is the HTTP status the client gets (200 on
 * allow); `detail` is for the audit log and operators only, never for clients.
 */
export interface Decision {
  readonly allow: boolean;
  readonly status: number;
  readonly route: string | undefined;
  readonly reasons: readonly string[];
  readonly detail?: string | undefined;
  /** What the route's dry-run (`shadow`) policy would have decided, when it has one. */
  readonly shadow?: { readonly allow: boolean; readonly status: number; readonly reasons: readonly string[] } | undefined;
}

export function denial(status: number, reasons: readonly string[], route?: string, detail?: string): Decision {
  return { allow: false, status, route, reasons, detail };
}

export function internalError(detail: string, route?: string): Decision {
  return denial(503, ['internal-error'], route, detail);
}

/**
 * The decision when the request's credential could not be checked (its keys or store
 * are unreachable, or the check was shed): where an identity would have mattered (401),
 * a 503 with the outage's reason; where it would not (a public route, no route, a deny
 * that needs no identity), the decision stands.
 */
export function identityUnavailableDecision(decision: Decision, reason: string, detail: string): Decision {
  if (decision.status !== 401) return decision;
  return { ...denial(503, [reason], decision.route, detail), shadow: decision.shadow };
}
