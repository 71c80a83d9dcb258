import { DURATION_PATTERN, parseDuration } from '../../duration.js';
import { RuleCompileError, pointerJoin } from '../compile-error.js';
import type { Criterion } from './criterion.js';

export const sessionAge: Criterion = {
  name: 'session_age',
  needsIdentity: true,
  summary: 'the login (`auth_time`, else `iat`) is at most `max` old; unknown login time never matches',
  argumentSchema: {
    type: 'object',
    properties: { max: { type: 'string', pattern: DURATION_PATTERN } },
    required: ['max'],
    additionalProperties: false,
  },
  compile(arg, pointer) {
    const maxMs = parseDuration((arg as { max: string }).max);
    if (maxMs === undefined) throw new RuleCompileError(pointerJoin(pointer, 'max'), 'expected a duration like 8h or 90m');
    return (ctx) => {
      const at = ctx.principal!.authTime;
      return at !== undefined && ctx.now - at * 1000 <= maxMs;
    };
  },
};
