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

function describe(e: ErrorObject): SchemaProblem {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { pointer: `${e.instancePath}/${String(p.additionalProperty)}`, message: `unknown key ${JSON.stringify(p.additionalProperty)}` };
    case 'required':
      return { pointer: e.instancePath, message: `missing required key ${JSON.stringify(p.missingProperty)}` };
    case 'enum':
      return { pointer: e.instancePath, message: `must be one of ${JSON.stringify(p.allowedValues)}` };
    case 'const':
      return { pointer: e.instancePath, message: `must be ${JSON.stringify(p.allowedValue)}` };
    case 'maxProperties':
    case 'minProperties':
      return { pointer: e.instancePath, message: `${e.message ?? 'wrong number of keys'} (a rule or matcher takes exactly one key)` };
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
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, useDefaults: options.useDefaults ?? false, allowUnionTypes: true });
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
