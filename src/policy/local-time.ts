import { RuleCompileError } from './compile-error.js';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface LocalTime {
  /** Minutes since local midnight. */
  minutes: number;
  weekday: Weekday;
}

const SHORT_TO_DAY: Record<string, Weekday> = { Sun: 'sun', Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat' };

/**
 * Builds the formatter once per policy criterion (Intl formatters are costly to
 * create, cheap to use); an unknown IANA zone is a load-time error.
 */
export function compileLocalTime(timezone: string, pointer: string): (ms: number) => LocalTime {
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
    });
  } catch {
    throw new RuleCompileError(pointer, `unknown time zone ${JSON.stringify(timezone)}`);
  }
  return (ms) => {
    let hour = 0;
    let minute = 0;
    let weekday: Weekday = 'sun';
    for (const part of fmt.formatToParts(ms)) {
      if (part.type === 'hour') hour = Number(part.value);
      else if (part.type === 'minute') minute = Number(part.value);
      else if (part.type === 'weekday') weekday = SHORT_TO_DAY[part.value] ?? 'sun';
    }
    return { minutes: hour * 60 + minute, weekday };
  };
}

/** `HH:MM` (24h) to minutes since midnight. */
export function parseClock(text: string, pointer: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!m) throw new RuleCompileError(pointer, `expected HH:MM (24h), got ${JSON.stringify(text)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}
