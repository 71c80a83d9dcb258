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

/**
 * Compiles a JSON Schema once and returns a checker that reports the first problem
 * with its JSON pointer. `useDefaults` fills documented defaults into the data.
 */
export function compileSchema(schema: Record<string, unknown>, options: { useDefaults?: boolean } = {}): SchemaCheck {
  const ajv = new Ajv2020({ allErrors: false, strict: true, strictRequired: false, useDefaults: options.useDefaults ?? false, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  return (data) => {
    if (validate(data)) return [];
    // `if/then` wrappers add a generic error after the specific one; report the specific one.
    const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'if');
    const first = errors[0];
    return first ? [describe(first)] : [{ pointer: '', message: 'invalid' }];
  };
}
