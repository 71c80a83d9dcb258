import { RuleCompileError, pointerJoin } from '../compile-error.js';
import type { Criterion } from './criterion.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function parseInstant(text: string, pointer: string): number {
  const ms = RFC3339.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) throw new RuleCompileError(pointer, `expected an RFC 3339 time with offset, got ${JSON.stringify(text)}`);
  return ms;
}

export const date: Criterion = {
  name: 'date',
  needsIdentity: false,
  summary: 'now is at or after `after` and before `before` (RFC 3339 with offset)',
  argumentSchema: {
    type: 'object',
    properties: { after: { type: 'string' }, before: { type: 'string' } },
    anyOf: [{ required: ['after'] }, { required: ['before'] }],
    additionalProperties: false,
  },
  compile(arg, pointer) {
    const a = arg as { after?: string; before?: string };
    const after = a.after === undefined ? -Infinity : parseInstant(a.after, pointerJoin(pointer, 'after'));
    const before = a.before === undefined ? Infinity : parseInstant(a.before, pointerJoin(pointer, 'before'));
    if (after >= before) throw new RuleCompileError(pointer, '`after` must be earlier than `before`');
    return (ctx) => ctx.now >= after && ctx.now < before;
  },
};
