import { pointerJoin } from '../compile-error.js';
import { compileLocalTime, parseClock } from '../local-time.js';
import type { Criterion } from './criterion.js';

export const timeOfDay: Criterion = {
  name: 'time_of_day',
  needsIdentity: false,
  summary: 'local time is at or after `after` and before `before` (HH:MM, 24h; a window may wrap midnight); `timezone` IANA name, default UTC',
  argumentSchema: {
    type: 'object',
    properties: {
      after: { type: 'string' },
      before: { type: 'string' },
      timezone: { type: 'string', minLength: 1 },
    },
    anyOf: [{ required: ['after'] }, { required: ['before'] }],
    additionalProperties: false,
  },
  compile(arg, pointer) {
    const a = arg as { after?: string; before?: string; timezone?: string };
    const local = compileLocalTime(a.timezone ?? 'UTC', pointerJoin(pointer, 'timezone'));
    const after = a.after === undefined ? 0 : parseClock(a.after, pointerJoin(pointer, 'after'));
    const before = a.before === undefined ? 24 * 60 : parseClock(a.before, pointerJoin(pointer, 'before'));
    const wraps = after > before;
    return (ctx) => {
      const m = local(ctx.now).minutes;
      return wraps ? m >= after || m < before : m >= after && m < before;
    };
  },
};
