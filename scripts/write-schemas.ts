// Writes the published JSON Schemas from their TypeScript sources (`npm run schemas`).
// A test fails when the committed files drift from the code.
import { writeFileSync } from 'node:fs';
import { auditRecordSchema } from '../src/audit/record-schema.js';
import { configSchema } from '../src/config/schema.js';
import { policyTestSchema } from '../src/policy-test/schema.js';
import { policySchema } from '../src/policy/schema.js';

export const SCHEMA_FILES: Record<string, () => Record<string, unknown>> = {
  'schema/policy.schema.json': policySchema,
  'schema/policy-test.schema.json': policyTestSchema,
  'schema/config.schema.json': configSchema,
  'schema/audit-record.schema.json': auditRecordSchema,
};

if (process.argv[1]?.endsWith('write-schemas.js')) {
  for (const [file, make] of Object.entries(SCHEMA_FILES)) {
    writeFileSync(file, `${JSON.stringify(make(), null, 2)}\n`);
    process.stdout.write(`wrote ${file}\n`);
  }
}
