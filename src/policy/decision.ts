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
