import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { ERROR_CODES } from '../../src/errors.js';
import { allReasons } from '../../src/policy/reasons.js';
import { SCHEMA_FILES } from '../../scripts/write-schemas.js';

// Tests run from the repository root (npm test); dist/ mirrors the tree, sources are read from it.
const ROOT = process.cwd();
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

function leafKeys(schema: Record<string, unknown>, prefix = ''): string[] {
  const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
  const items = schema.items as Record<string, unknown> | undefined;
  if (items?.properties) return leafKeys(items, `${prefix}[]`);
  if (!props) return [prefix];
  return Object.entries(props)
    .filter(([k]) => k !== '$schema')
    .flatMap(([k, v]) => leafKeys(v, prefix ? `${prefix}.${k}` : k));
}

describe('the repository keeps its documentation and schemas in step with the code', () => {
  it('every reason code is in the README table, and the table has no stale codes', () => {
    const documented = new Set([...README.matchAll(/^\| `([a-z-]+)`(?: \/ `([a-z-]+)`)? \|/gm)].flatMap((m) => [m[1]!, m[2]].filter(Boolean) as string[]));
    const codes = [...allReasons().keys()];
    for (const c of codes) assert.ok(documented.has(c), `reason ${c} is documented`);
    const section = README.slice(README.indexOf('## Reason codes'), README.indexOf('## Envoy and the Check answer'));
    const inTable = [...section.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).filter((c) => /-(ok|unauthorized|unauthenticated|found|token|path|request|error)$|^(accept|reject)$/.test(c));
    for (const c of inTable) assert.ok(codes.includes(c), `documented reason ${c} exists in code`);
  });

  it('every config key and its default is in the README', () => {
    for (const key of leafKeys(configSchema())) {
      const name = key.replace('jwt[]', 'jwt[]');
      assert.ok(README.includes(`| \`${name}\` |`), `config key ${name} documented`);
    }
  });

  it('every error code is in the README', () => {
    for (const code of Object.keys(ERROR_CODES)) assert.ok(README.includes(`| \`${code}\` |`), code);
  });

  it('the published JSON Schemas equal the ones the code uses (run `npm run schemas`)', () => {
    for (const [file, make] of Object.entries(SCHEMA_FILES)) {
      assert.deepEqual(JSON.parse(readFileSync(join(ROOT, file), 'utf8')), make(), file);
    }
  });

  it('the pure core (request, policy, response) imports no transport, logger or I/O', () => {
    const forbidden = /from '(@grpc\/[^']+|pino|node:fs|node:net|node:http|node:http2|fs|net|http|lru-cache|jose)'/;
    for (const dir of ['request', 'policy', 'response']) {
      for (const f of files(join(ROOT, 'src', dir))) {
        const text = readFileSync(f, 'utf8');
        const m = forbidden.exec(text);
        assert.equal(m, null, `${relative(ROOT, f)} imports ${m?.[1]}`);
      }
    }
  });

  it('each criterion lives in its own file and is registered', () => {
    const dir = join(ROOT, 'src/policy/criteria');
    const criterionFiles = readdirSync(dir).filter((f) => !['index.ts', 'criterion.ts', 'string-criterion.ts'].includes(f));
    const index = readFileSync(join(dir, 'index.ts'), 'utf8');
    for (const f of criterionFiles) assert.ok(index.includes(`'./${f.replace('.ts', '.js')}'`), `${f} registered`);
  });
});
