import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startVerdict, type RunningVerdict } from '../../src/app.js';
import { auditRecordSchema } from '../../src/audit/record-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import { compileSchema } from '../../src/schema-validator.js';

const checkAuditRecord = compileSchema(auditRecordSchema());
import { tempDir } from './tmp.js';

export interface TestApp {
  app: RunningVerdict;
  dir: string;
  auditPath: string;
  policiesDir: string;
  /** Audit records written so far (after `stop`, all of them). */
  records(): Record<string, unknown>[];
}

/** Starts a real Verdict on loopback ports with a file audit sink in a temp folder. */
export async function startTestApp(policies: Record<string, unknown>, config: Record<string, unknown> = {}, options: { log?: pino.Logger } = {}): Promise<TestApp> {
  const t = tempDir();
  for (const [name, doc] of Object.entries(policies)) t.write(`policies/${name}`, doc);
  const auditPath = join(t.dir, 'audit.jsonl');
  const file = t.write('verdict.json', {
    grpc: { listen: '127.0.0.1:0' },
    http: { listen: '127.0.0.1:0' },
    audit: { sink: 'file', path: 'audit.jsonl' },
    ...config,
    policies: { dir: 'policies', reload_debounce: '50ms', ...(config.policies as object | undefined) },
  });
  const app = await startVerdict(loadConfig(file, {}), { log: options.log ?? pino({ level: 'silent' }) });
  return {
    app,
    dir: t.dir,
    auditPath,
    policiesDir: join(t.dir, 'policies'),
    records() {
      let text = '';
      try {
        text = readFileSync(auditPath, 'utf8');
      } catch {
        return [];
      }
      const records = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      // Every record any test reads must match the published record schema, and no record
      // may carry a credential the tests use: JWTs (tokens, sealed cookies), bearer values,
      // the test IdP's client secret, admin tokens.
      const withoutSignatures = records.map(({ 'verdict.checkpoint': _signed, ...r }) => r);
      if (/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.|Bearer |verdict-test-secret|admin-token-for-tests|browser-test-admin-token/.test(JSON.stringify(withoutSignatures))) {
        throw new Error('a secret reached the audit trail');
      }
      for (const r of records) {
        const problems = checkAuditRecord(r);
        if (problems.length > 0) throw new Error(`audit record off schema at ${problems[0]!.pointer}: ${problems[0]!.message}: ${JSON.stringify(r)}`);
      }
      return records;
    },
  };
}

export const DEMO_POLICY = {
  version: 1,
  routes: [
    {
      id: 'grafana',
      match: { hosts: ['grafana.example.com'], path_prefix: '/' },
      to: 'http://100.101.102.103:3000',
      allow: { or: [{ groups: { has: 'sre' } }, { email: { is: 'boss@example.com' } }] },
      deny: { http_method: { in: ['DELETE'] } },
    },
    { id: 'public', match: { hosts: ['status.example.com'] }, allow: { accept: true } },
  ],
};
