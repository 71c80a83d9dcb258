import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip, gunzipSync } from 'node:zlib';
import { createLocalJWKSet, importSPKI } from 'jose';
import { matches, type AuditQuery } from '../audit/query.js';
import { verifyTrail } from '../audit/verify.js';
import { err, out } from './io.js';

async function loadKey(file: string) {
  const text = readFileSync(file, 'utf8');
  if (text.includes('BEGIN PUBLIC KEY')) return importSPKI(text, 'ES256');
  // A JWKS: the checkpoint's kid picks the key.
  const jwks = createLocalJWKSet(JSON.parse(text) as never);
  return jwks;
}

export async function auditVerify(files: readonly string[], keyFile: string | undefined): Promise<number> {
  if (files.length === 0) {
    err('verdict audit verify: name the audit files, oldest first');
    return 2;
  }
  let inputs;
  try {
    // Compressed rotated files (retention_action: compress) are read as they are.
    inputs = files.map((f) => ({ name: f, text: f.endsWith('.gz') ? gunzipSync(readFileSync(f)).toString('utf8') : readFileSync(f, 'utf8') }));
  } catch (e) {
    err(`verdict audit verify: ${(e as Error).message}`);
    return 2;
  }
  let key;
  try {
    key = keyFile ? await loadKey(keyFile) : undefined;
  } catch (e) {
    err(`verdict audit verify: ${keyFile}: not a public key or JWKS: ${(e as Error).message}`);
    return 2;
  }
  const r = await verifyTrail(inputs, key as never);
  if (r.problem) {
    out(`${r.problem.file}:${r.problem.line}: seq ${r.problem.seq ?? '?'}: ${r.problem.message}`);
    return 1;
  }
  out(`intact: ${r.records} records, seq ${r.firstSeq ?? '-'}…${r.lastSeq ?? '-'}, ${r.checkpoints} checkpoints${r.signaturesChecked ? ', signatures verified' : ' (signatures not checked: pass --key)'}`);
  return 0;
}

function time(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`--${name} is not a time: ${v}`);
  return t;
}

export async function auditQuery(files: readonly string[], o: { user?: string; route?: string; decision?: string; reason?: string; since?: string; until?: string }): Promise<number> {
  let q: AuditQuery;
  try {
    q = { user: o.user, route: o.route, decision: o.decision, reason: o.reason, since: time(o.since, 'since'), until: time(o.until, 'until') };
  } catch (e) {
    err(`verdict audit query: ${(e as Error).message}`);
    return 2;
  }
  for (const f of files) {
    try {
      const input = f.endsWith('.gz') ? createReadStream(f).pipe(createGunzip()) : createReadStream(f);
      for await (const line of createInterface({ input, crlfDelay: Infinity })) {
        if (line === '') continue;
        try {
          if (matches(JSON.parse(line) as Record<string, unknown>, q)) out(line);
        } catch {
          // not a record: verify reports it; the export skips it
        }
      }
    } catch (e) {
      err(`verdict audit query: ${(e as Error).message}`);
      return 2;
    }
  }
  return 0;
}
