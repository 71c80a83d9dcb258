/** Thrown while compiling a rule; `pointer` is relative to the rule being compiled. */
export class RuleCompileError extends Error {
  readonly pointer: string;
  constructor(pointer: string, message: string) {
    super(message);
    this.name = 'RuleCompileError';
    this.pointer = pointer;
  }
}

/** Appends `key` to a JSON pointer, escaping `~` and `/` as RFC 6901 requires. */
export function pointerJoin(base: string, key: string | number): string {
  return `${base}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;
}
