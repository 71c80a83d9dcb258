import { RuleCompileError, pointerJoin } from './compile-error.js';
import { foldCase } from './fold-case.js';
import { compileAnchoredRegex } from './regex.js';

/** Tests one value; `undefined` means the value is absent (no header, no verified email). */
export type StringTest = (value: string | undefined) => boolean;
export type ListTest = (values: readonly string[]) => boolean;

export const STRING_MATCHER_KEYS = ['is', 'in', 'not_in', 'starts_with', 'ends_with', 'contains', 'matches'] as const;
export const LIST_MATCHER_KEYS = ['has', 'has_any', 'has_all', 'exclude'] as const;

/** JSON Schema of a string matcher; `extra` adds sibling keys such as `name`. */
export function stringMatcherSchema(extra?: Record<string, unknown>): Record<string, unknown> {
  const one = {
    type: 'object',
    properties: {
      ...extra,
      is: { type: 'string' },
      in: { type: 'array', items: { type: 'string' }, minItems: 1 },
      not_in: { type: 'array', items: { type: 'string' }, minItems: 1 },
      starts_with: { type: 'string', minLength: 1 },
      ends_with: { type: 'string', minLength: 1 },
      contains: { type: 'string', minLength: 1 },
      matches: { type: 'string', minLength: 1 },
    },
    additionalProperties: false,
    required: extra ? Object.keys(extra) : [],
    // Exactly one matcher key beside the fixed ones.
    minProperties: 1 + (extra ? Object.keys(extra).length : 0),
    maxProperties: 1 + (extra ? Object.keys(extra).length : 0),
  };
  // if/then rather than oneOf, so a wrong key is reported as such, not as "must be string".
  return extra ? one : { type: ['string', 'object'], if: { type: 'object' }, then: one };
}

export function listMatcherSchema(extra?: Record<string, unknown>): Record<string, unknown> {
  const n = extra ? Object.keys(extra).length : 0;
  return {
    type: 'object',
    properties: {
      ...extra,
      has: { type: 'string' },
      has_any: { type: 'array', items: { type: 'string' }, minItems: 1 },
      has_all: { type: 'array', items: { type: 'string' }, minItems: 1 },
      exclude: { type: 'string' },
    },
    additionalProperties: false,
    required: extra ? Object.keys(extra) : [],
    minProperties: 1 + n,
    maxProperties: 1 + n,
  };
}

/** The one matcher key of an object that also carries fixed keys like `name`. */
function matcherKey(arg: Record<string, unknown>, keys: readonly string[], pointer: string): string {
  const found = Object.keys(arg).filter((k) => keys.includes(k));
  if (found.length !== 1) throw new RuleCompileError(pointer, `needs exactly one of ${keys.join(', ')}`);
  return found[0]!;
}

/**
 * Case folding for values that compare case-insensitively (emails, domains, groups): the
 * policy's literals are folded once at load, the request's value per test. A regex sees
 * the folded (lower-case) value.
 */
const fold = foldCase;
const foldArg = (arg: unknown): unknown => {
  if (typeof arg === 'string') return fold(arg);
  if (Array.isArray(arg)) return arg.map((x) => (typeof x === 'string' ? fold(x) : x));
  return arg;
};

/** A string matcher; with `caseInsensitive`, literals and value compare lower-cased. */
export function compileStringMatcher(arg: unknown, pointer: string, caseInsensitive = false): StringTest {
  if (caseInsensitive) {
    const obj = typeof arg === 'string' ? arg : Object.fromEntries(Object.entries(arg as Record<string, unknown>).map(([k, v]) => [k, k === 'matches' ? v : foldArg(v)]));
    const test = compileStringMatcher(typeof obj === 'string' ? fold(obj) : obj, pointer, false);
    return (v) => test(v === undefined ? undefined : fold(v));
  }
  if (typeof arg === 'string') return (v) => v === arg;
  const obj = arg as Record<string, unknown>;
  const key = matcherKey(obj, STRING_MATCHER_KEYS, pointer);
  const val = obj[key];
  switch (key) {
    case 'is': {
      const s = val as string;
      return (v) => v === s;
    }
    case 'in': {
      const set = new Set(val as string[]);
      return (v) => v !== undefined && set.has(v);
    }
    case 'not_in': {
      // An absent value is in no list, so `not_in` is exactly `not` of `in`.
      const set = new Set(val as string[]);
      return (v) => v === undefined || !set.has(v);
    }
    case 'starts_with': {
      const s = val as string;
      return (v) => v !== undefined && v.startsWith(s);
    }
    case 'ends_with': {
      const s = val as string;
      return (v) => v !== undefined && v.endsWith(s);
    }
    case 'contains': {
      const s = val as string;
      return (v) => v !== undefined && v.includes(s);
    }
    case 'matches': {
      const test = compileAnchoredRegex(val as string, pointerJoin(pointer, 'matches'));
      return (v) => v !== undefined && test(v);
    }
    default:
      throw new RuleCompileError(pointer, `unknown string matcher ${key}`);
  }
}

/** A list matcher; with `caseInsensitive`, literals and list items compare lower-cased. */
export function compileListMatcher(arg: unknown, pointer: string, caseInsensitive = false): ListTest {
  if (caseInsensitive) {
    const folded = Object.fromEntries(Object.entries(arg as Record<string, unknown>).map(([k, v]) => [k, k === 'name' ? v : foldArg(v)]));
    const test = compileListMatcher(folded, pointer, false);
    return (list) => test(list.map(fold));
  }
  const obj = arg as Record<string, unknown>;
  const key = matcherKey(obj, LIST_MATCHER_KEYS, pointer);
  const val = obj[key];
  switch (key) {
    case 'has': {
      const s = val as string;
      return (list) => list.includes(s);
    }
    case 'has_any': {
      const want = val as string[];
      return (list) => want.some((w) => list.includes(w));
    }
    case 'has_all': {
      const want = val as string[];
      return (list) => want.every((w) => list.includes(w));
    }
    case 'exclude': {
      const s = val as string;
      return (list) => !list.includes(s);
    }
    default:
      throw new RuleCompileError(pointer, `unknown list matcher ${key}`);
  }
}
