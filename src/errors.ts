/**
 * One error type for the whole service. `code` is stable and documented (README,
 * "Error codes"); `message` is safe to show to an operator; `detail` may carry
 * internals (paths, library messages) and is never sent to a client.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'configuration file failed validation',
  CONFIG_UNREADABLE: 'configuration file could not be read or parsed',
  POLICY_INVALID: 'a policy file failed validation or compilation',
  POLICY_UNREADABLE: 'a policy file could not be read or parsed',
  AUDIT_WRITE_FAILED: 'the audit sink could not accept a record',
  LISTEN_FAILED: 'a server could not bind its address',
  STORE_UNAVAILABLE: 'the session store cannot be reached',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One problem located in a file, as `verdict validate` prints it. */
export interface Problem {
  file: string;
  pointer: string;
  message: string;
}

/** Where a setting came from, for problems about it: `{file: 'verdict.json', pointer: '/policies/dir'}`. */
export interface SettingOrigin {
  readonly file: string;
  readonly pointer: string;
}

/** `ENOENT` in words an operator acts on. */
export function describeFsError(e: unknown, what: 'folder' | 'file'): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = { ENOENT: `no such ${what}`, ENOTDIR: 'not a folder', EISDIR: 'a folder, not a file', EACCES: 'permission denied', EPERM: 'permission denied' };
  return code === undefined ? (e as Error).message : words[code] ? `${words[code]} (${code})` : code;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.pointer}: ${p.message}`;
}

export class VerdictError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly problems: readonly Problem[];

  constructor(code: ErrorCode, message: string, options: { detail?: string; problems?: Problem[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VerdictError';
    this.code = code;
    this.detail = options.detail;
    this.problems = Object.freeze([...(options.problems ?? [])]);
  }
}

export function isVerdictError(e: unknown): e is VerdictError {
  return e instanceof VerdictError;
}

/** A short, secret-free description of any thrown value, for operational logs. */
export function describeError(e: unknown): string {
  if (e instanceof VerdictError) return `${e.code}: ${e.message}${e.detail ? ` (${e.detail})` : ''}`;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
