import { pointerJoin } from '../compile-error.js';
import { WEEKDAYS, compileLocalTime } from '../local-time.js';
import type { Criterion } from './criterion.js';

export const dayOfWeek: Criterion = {
  name: 'day_of_week',
  needsIdentity: false,
  summary: 'local weekday is one of `in` (sun…sat); `timezone` IANA name, default UTC',
  argumentSchema: {
    type: 'object',
    properties: {
      in: { type: 'array', items: { enum: [...WEEKDAYS] }, minItems: 1 },
      timezone: { type: 'string', minLength: 1 },
    },
    required: ['in'],
    additionalProperties: false,
  },
  compile(arg, pointer) {
    const a = arg as { in: string[]; timezone?: string };
    const local = compileLocalTime(a.timezone ?? 'UTC', pointerJoin(pointer, 'timezone'));
    const days = new Set(a.in);
    return (ctx) => days.has(local(ctx.now).weekday);
  },
};
