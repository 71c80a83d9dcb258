export const POLICY_TEST_SCHEMA_ID = 'urn:verdict:schema:policy-test:1';

/** Schema of `verdict test` case files (policy.md, "Test files"). */
export function policyTestSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: POLICY_TEST_SCHEMA_ID,
    title: 'Verdict policy test cases',
    type: 'object',
    required: ['cases'],
    additionalProperties: false,
    properties: {
      $schema: { type: 'string' },
      cases: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'request', 'expect'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1 },
            request: {
              type: 'object',
              required: ['method', 'path'],
              additionalProperties: false,
              properties: {
                method: { type: 'string', minLength: 1 },
                host: { type: 'string' },
                path: { type: 'string' },
                scheme: { enum: ['http', 'https'] },
                headers: { type: 'object', additionalProperties: { type: 'string' } },
                source_ip: { type: 'string' },
                route: { type: 'string' },
              },
            },
            identity: {
              type: 'object',
              required: ['sub'],
              properties: {
                sub: { type: 'string', minLength: 1 },
                email: { type: 'string' },
                groups: { type: 'array', items: { type: 'string' } },
              },
            },
            now: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$' },
            expect: {
              type: 'object',
              required: ['decision'],
              additionalProperties: false,
              properties: {
                decision: { enum: ['allow', 'deny'] },
                status: { type: 'integer' },
                reasons: { type: 'array', items: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  };
}
