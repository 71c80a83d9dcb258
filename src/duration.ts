/**
 * Durations in config and policies: one or more `<integer><unit>` parts, units
 * ms, s, m, h, d (`90s`, `8h`, `1h30m`). Returns milliseconds, or undefined when the
 * text is not a duration, so callers can report it with their own pointer.
 */
const PART = /(\d{1,9})(ms|s|m|h|d)/gy;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const DURATION_PATTERN = '^(\\d{1,9}(ms|s|m|h|d))+$';

export function parseDuration(text: string): number | undefined {
  if (text.length === 0 || text.length > 64) return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let m = PART.exec(text); m !== null; m = PART.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    end = PART.lastIndex;
  }
  return end === text.length ? total : undefined;
}
