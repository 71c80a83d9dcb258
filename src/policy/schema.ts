import { CRITERIA } from './criteria/index.js';

export const POLICY_SCHEMA_ID = 'urn:verdict:schema:policy:1';
const ROUTE_ID_PATTERN = '^[a-z0-9][a-z0-9._-]*$';

/**
 * The policy file schema (JSON Schema 2020-12), assembled from the criteria so that
 * a criterion and its argument schema live in one file. `schema/policy.schema.json`
 * is this object written out (`npm run schemas`); a test keeps the two equal.
 */
export function policySchema(): Record<string, unknown> {
  const criteria: Record<string, unknown> = {};
  for (const c of CRITERIA) criteria[c.name] = c.argumentSchema;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: POLICY_SCHEMA_ID,
    title: 'Verdict policy file (version 1)',
    type: 'object',
    required: ['version', 'routes'],
    additionalProperties: false,
    properties: {
      $schema: { type: 'string' },
      version: { const: 1 },
      routes: { type: 'array', items: { $ref: '#/$defs/route' } },
    },
    $defs: {
      route: {
        type: 'object',
        required: ['id'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', pattern: ROUTE_ID_PATTERN, maxLength: 128 },
          description: { type: 'string' },
          match: { $ref: '#/$defs/match' },
          to: { type: 'string', minLength: 1 },
          allow_path_parameters: {
            type: 'boolean',
            description: 'Accept paths with ; parameters (/a;jsessionid=1) on this route; refused with 400 invalid-path otherwise',
          },
          allow: { $ref: '#/$defs/rule' },
          deny: { $ref: '#/$defs/rule' },
          issuers: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            items: { type: 'string', minLength: 1 },
            description: 'Issuers (exact iss) whose identities the identity criteria of this route match; default: identity.default_issuers (the first configured issuer)',
          },
          shadow: {
            type: 'object',
            description: 'A dry-run policy: evaluated and audited beside the real one, never enforced',
            additionalProperties: false,
            properties: { allow: { $ref: '#/$defs/rule' }, deny: { $ref: '#/$defs/rule' } },
          },
        },
      },
      match: {
        type: 'object',
        additionalProperties: false,
        properties: {
          hosts: {
            type: 'array',
            minItems: 1,
            items: { type: 'string', pattern: '^(\\*\\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\\.?$' },
          },
          path_prefix: { type: 'string', pattern: '^/' },
          path: { type: 'string', pattern: '^/' },
          path_regex: { type: 'string', minLength: 1 },
          methods: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Z]+$' } },
        },
      },
      rule: {
        type: 'object',
        minProperties: 1,
        maxProperties: 1,
        additionalProperties: false,
        properties: {
          and: { type: 'array', minItems: 1, items: { $ref: '#/$defs/rule' } },
          or: { type: 'array', minItems: 1, items: { $ref: '#/$defs/rule' } },
          not: { $ref: '#/$defs/rule' },
          ...criteria,
        },
      },
    },
  };
}
