import { createHash } from 'node:crypto';
import type { AuditRecord } from './record.js';

// Characters JSON may carry raw but line-based tools read as line ends or controls: DEL,
// C1 controls (U+0085 NEL among them), U+2028 and U+2029. Attacker input (paths, claims)
// reaches records, so these are always written as \u escapes: one record, one line.
const LINE_BREAKERS = /[\u007f-\u009f\u2028\u2029]/g;
const escapeChar = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** JSON.stringify of a string, with the characters above escaped. */
function jsonString(s: string): string {
  const text = JSON.stringify(s);
  LINE_BREAKERS.lastIndex = 0;
  return LINE_BREAKERS.test(text) ? text.replace(LINE_BREAKERS, escapeChar) : text;
}

/** The general canonical serializer; `canonical` uses it when the fast path below does not apply. */
function canonicalSlow(v: unknown): string | undefined {
  if (v === undefined || typeof v === 'function') return undefined;
  if (typeof v === 'string') return jsonString(v);
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => canonicalSlow(x) ?? 'null').join(',')}]`;
  const o = v as Record<string, unknown>;
  let out = '{';
  for (const k of Object.keys(o).sort()) {
    const c = canonicalSlow(o[k]);
    if (c === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${jsonString(k)}:${c}`;
  }
  return `${out}}`;
}

// What `shape` finds: JSON.stringify writes the value canonically as it is, after its object
// keys are put in order (sortedCopy), or differently whatever the order (the general path).
const AS_IS = 0;
const UNSORTED = 1;
const UNFIT = 2;

/**
 * Strings, numbers, booleans, null and undefined, arrays and plain objects are written by
 * JSON.stringify as canonicalSlow writes them, once object keys are in order. Anything else is
 * UNFIT: other prototypes (toJSON, Date, Map), functions, symbols, bigints, sparse arrays, and
 * keys JavaScript enumerates out of insertion order or that cannot be copied (integer-like
 * keys, `__proto__`, `toJSON`).
 */
function shape(v: unknown): number {
  if (v === null || v === undefined) return AS_IS;
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean') return AS_IS;
  if (t !== 'object') return UNFIT;
  let worst = AS_IS;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (x === undefined && !(i in v)) return UNFIT;
      const s = memberShape(x);
      if (s > worst) worst = s;
      if (worst === UNFIT) return UNFIT;
    }
    return worst;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return UNFIT;
  const o = v as Record<string, unknown>;
  let prev = '';
  for (const k in o) {
    if (!Object.hasOwn(o, k)) return UNFIT;
    const c = k.charCodeAt(0);
    // Integer-like keys are enumerated numerically, not in insertion order.
    if ((c >= 48 && c <= 57) || (c === 95 && k === '__proto__') || (c === 116 && k === 'toJSON')) return UNFIT;
    if (prev !== '' && !(prev < k)) worst = UNSORTED;
    prev = k;
    const s = memberShape(o[k]);
    if (s > worst) worst = s;
    if (worst === UNFIT) return UNFIT;
  }
  return worst;
}

/** An array element's or a property's shape: scalars (and undefined, which JSON.stringify drops or nulls) as they are. */
function memberShape(x: unknown): number {
  if (x === null || typeof x !== 'object') return x === undefined || typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' ? AS_IS : UNFIT;
  return shape(x);
}

/** A copy with every object's keys in order (undefined values dropped); for values `shape` accepts. */
function sortedCopy(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(sortedCopy);
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) {
    const x = o[k];
    if (x !== undefined) out[k] = sortedCopy(x);
  }
  return out;
}

/**
 * Canonical JSON: keys sorted at every level, undefined values left out, everything else as
 * JSON.stringify writes it, except that DEL, C1 controls, U+2028 and U+2029 are escaped. One
 * byte string per record content, so the writer and `verdict audit verify` hash exactly the
 * same thing. Records are plain and flat, so they go through the native JSON.stringify once
 * their keys are in order (a key-by-key serializer cost ~3x more); the escapes are applied to
 * the whole text, which is the same as applying them inside each string, since JSON's own
 * syntax is ASCII. Anything else takes the general path; both give the same bytes
 * (test/unit/audit/canonical.test.ts compares them).
 */
export function canonical(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object') return canonicalSlow(v);
  const s = shape(v);
  if (s === UNFIT) return canonicalSlow(v);
  const text = JSON.stringify(s === AS_IS ? v : sortedCopy(v));
  LINE_BREAKERS.lastIndex = 0;
  return LINE_BREAKERS.test(text) ? text.replace(LINE_BREAKERS, escapeChar) : text;
}

/** The general path alone, for tests that compare it with `canonical`. */
export const canonicalGeneral = canonicalSlow;

/**
 * The hash chain of the audit trail: each record carries `seq`, the `prev_hash` of the
 * record before it, and `hash` = SHA-256 over its canonical JSON without `hash`.
 */
export function recordHash(record: AuditRecord): string {
  const { hash: _omit, ...rest } = record;
  return createHash('sha256').update(canonical(rest) ?? '').digest('hex');
}

export interface ChainHead {
  readonly seq: number;
  readonly hash: string | null;
}

/**
 * Links a record to the chain: sets `seq`, `prev_hash` and `hash` on it (it takes the record
 * over: copying a 25-key record costs more than hashing it) and returns its JSON line (the
 * canonical text that was hashed, with `hash` appended: serialized once).
 */
export function link(record: AuditRecord, head: ChainHead): { record: AuditRecord; json: string } {
  const linked = record;
  delete linked.hash;
  linked.seq = head.seq + 1;
  linked.prev_hash = head.hash;
  const text = canonical(linked) ?? '{}';
  const hash = createHash('sha256').update(text).digest('hex');
  linked.hash = hash;
  return { record: linked, json: `${text.slice(0, -1)},"hash":"${hash}"}` };
}
