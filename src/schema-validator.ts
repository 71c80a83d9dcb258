import Ajv2020Import from 'ajv/dist/2020.js';
import type { ErrorObject } from 'ajv';

// ajv is CommonJS: under Node's ESM loader the class is the default export itself,
// while its type declarations describe it as `.default`.
const Ajv2020 = ((Ajv2020Import as unknown as { default?: unknown }).default ?? Ajv2020Import) as unknown as typeof Ajv2020Import.default;

export interface SchemaProblem {
  pointer: string;
  message: string;
}

export type SchemaCheck = (data: unknown) => SchemaProblem[];

/** Keys a schema object allows (what to suggest for an unknown or missing one); `$schema` left out. */
function allowedKeys(schema: unknown): string[] {
  const props = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props).filter((k) => k !== '$schema') : [];
}

/** Edit distance, for "did you mean": small strings only (keys). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function closest(key: string, keys: readonly string[]): string | undefined {
  const k = key.toLowerCase().replace(/-/g, '_');
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of keys) {
    const d = c === k ? 0 : distance(k, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.min(2, Math.floor(best.length / 3))) ? best : undefined;
}

/**
 * What a value that fails a `pattern` should look like, in words: the schemas' patterns are
 * exact but unreadable in an error message. Keyed by the pattern's source.
 */
export type PatternHint = (value: unknown) => string;

const listenHint: PatternHint = (v) =>
  `${JSON.stringify(v)} is not host:port; write an address and a port, e.g. "0.0.0.0:9191", "127.0.0.1:9191" or "[::]:9191" (port 0 picks a free one)`;
const durationHint: PatternHint = (v) => `${JSON.stringify(v)} is not a duration; write <number><unit> parts with units ms, s, m, h, d, e.g. "500ms", "10s", "1h30m"`;

function hostHint(v: unknown): string {
  const s = String(v);
  const fix = /^[a-z][a-z0-9+.-]*:\/\//i.test(s)
    ? `leave out the scheme ("${s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/[/:].*$/, '')}")`
    : s.includes('/')
      ? 'leave out the path (match paths with path_prefix, path or path_regex)'
      : /^[^:]+:\d+$/.test(s)
        ? `leave out the port ("${s.replace(/:\d+$/, '')}"): the request's port is removed before hosts are compared`
        : s.includes('*')
          ? 'a wildcard is "*." and a domain at the start ("*.example.com": every name below example.com)'
          : 'write a host name ("app.example.com") or "*.example.com" for every name below example.com';
  return `${JSON.stringify(v)} is not a host name: ${fix}`;
}

export const PATTERN_HINTS: Readonly<Record<string, PatternHint>> = {
  '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$': listenHint,
  '^(\\d{1,9}(ms|s|m|h|d))+$': durationHint,
  '^(0|(\\d{1,9}(ms|s|m|h|d))+)$': (v) => `${durationHint(v)}, or "0"`,
  '^(\\*\\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\\.?$': hostHint,
  '^[a-z0-9][a-z0-9._-]*$': (v) => `${JSON.stringify(v)} is not a route id: use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit (e.g. "grafana", "api-v2")`,
  '^/': (v) => `${JSON.stringify(v)} must start with "/"`,
  '^[A-Z]+$': (v) =>
    typeof v === 'string' && /^[A-Za-z]+$/.test(v)
      ? `${JSON.stringify(v)} never matches: request methods are upper-case; write ${JSON.stringify(v.toUpperCase())}`
      : `${JSON.stringify(v)} is not an HTTP method (upper-case letters, e.g. "GET", "POST")`,
  '^https?://': (v) => `${JSON.stringify(v)} must be an http:// or https:// URL`,
  // The URL may carry a password: never echoed.
  '^rediss?://': () => 'must be a redis:// or rediss:// URL',
  '^[A-Za-z0-9_-]{43}$': () => 'not a session key: 32 random bytes in base64url, 43 characters (openssl rand -base64 32 | tr \'+/\' \'-_\' | tr -d \'=\\n\')',
};

/** What a value is, without echoing it (it may be a secret). */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function typeName(t: unknown): string {
  return Array.isArray(t) ? t.join(' or ') : String(t);
}

function describe(e: ErrorObject): SchemaProblem {
  const p = e.params as Record<string, unknown>;
  const keys = allowedKeys(e.parentSchema);
  const oneOf = (ks: readonly string[]) => ks.join(', ');
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const near = closest(key, keys);
      const hint = near !== undefined ? `; did you mean ${JSON.stringify(near)}?` : '';
      const list = keys.length > 0 ? ` (allowed here: ${oneOf(keys)})` : '';
      return { pointer: `${e.instancePath}/${key}`, message: `unknown key ${JSON.stringify(key)}${hint}${list}` };
    }
    case 'required':
      return { pointer: e.instancePath, message: `missing required key ${JSON.stringify(p.missingProperty)}` };
    case 'enum':
      return { pointer: e.instancePath, message: `must be one of ${JSON.stringify(p.allowedValues)}` };
    case 'const':
      return { pointer: e.instancePath, message: `must be ${JSON.stringify(p.allowedValue)}` };
    case 'maxProperties':
    case 'minProperties': {
      const rule = keys.includes('and') && keys.includes('or');
      const what = rule ? 'a rule takes exactly one key' : 'a matcher takes exactly one key';
      const found = e.data !== null && typeof e.data === 'object' ? Object.keys(e.data as object) : [];
      const choices = keys.filter((k) => !((e.parentSchema as { required?: string[] } | undefined)?.required ?? []).includes(k));
      const fix =
        e.keyword === 'maxProperties'
          ? rule
            ? `found ${oneOf(found)}: combine several with {"and": [...]} or {"or": [...]}`
            : `found ${oneOf(found)}: keep one of ${oneOf(choices)}`
          : `add one of ${oneOf(choices)}`;
      return { pointer: e.instancePath, message: `${e.message ?? 'wrong number of keys'} (${what}; ${fix})` };
    }
    case 'pattern': {
      const hint = PATTERN_HINTS[String(p.pattern)];
      if (hint) return { pointer: e.instancePath, message: hint(e.data) };
      return { pointer: e.instancePath, message: e.message ?? e.keyword };
    }
    case 'type': {
      const want = typeName(p.type);
      // An object of named keys (a matcher, a rule, a section): say which keys it takes.
      if (want.includes('object') && keys.length > 0) {
        return { pointer: e.instancePath, message: `must be ${want === 'object' ? 'an object' : want} with ${(e.parentSchema as { maxProperties?: number }).maxProperties === 1 ? 'one of the keys' : 'the keys'} ${oneOf(keys)} (found ${kindOf(e.data)})` };
      }
      return { pointer: e.instancePath, message: e.message ?? e.keyword };
    }
    default:
      return { pointer: e.instancePath, message: e.message ?? e.keyword };
  }
}

const RANK: Record<string, number> = { additionalProperties: 0, required: 1, minProperties: 3, maxProperties: 3 };
const rank = (e: ErrorObject): number => RANK[e.keyword] ?? 2;
const depth = (e: ErrorObject): number => e.instancePath.split('/').length + (e.keyword === 'additionalProperties' ? 1 : 0);

/**
 * Compiles a JSON Schema once and returns a checker that reports the first problem
 * with its JSON pointer. `useDefaults` fills documented defaults into the data.
 */
export function compileSchema(schema: Record<string, unknown>, options: { useDefaults?: boolean } = {}): SchemaCheck {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, useDefaults: options.useDefaults ?? false, allowUnionTypes: true, verbose: true });
  const validate = ajv.compile(schema);
  return (data) => {
    if (validate(data)) return [];
    // One problem per document, the most telling one: the deepest, and among equals a
    // named key (unknown / missing) over counts of keys; `if` only echoes its `then`.
    const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'if');
    errors.sort((a, b) => depth(b) - depth(a) || rank(a) - rank(b));
    const first = errors[0];
    return first ? [describe(first)] : [{ pointer: '', message: 'invalid' }];
  };
}
