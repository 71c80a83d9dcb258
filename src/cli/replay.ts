import { mergedByTime } from '../audit/read-records.js';
import { loadConfig, settingOrigin } from '../config/load-config.js';
import { loadPolicyDir } from '../policy-store/policy-store.js';
import { reportJson, reportText } from '../replay/format-report.js';
import { Replayer, flips } from '../replay/replay.js';
import { err, oneLine, out, problemsOf } from './io.js';

export interface ReplayArgs {
  readonly config: string | undefined;
  readonly policies: string | undefined;
  readonly format: string | undefined;
  readonly examples: string | undefined;
}

/**
 * `verdict replay --policies DIR AUDIT_FILE...`: every recorded decision decided again under
 * the policy folder given; prints what would change. Exit 0 when no decision flips between
 * allow and deny, 1 when one does, 2 on bad arguments or unreadable input.
 */
export async function replay(files: readonly string[], a: ReplayArgs): Promise<number> {
  if (files.length === 0) {
    err('verdict replay: name the audit files, oldest first (rotated .gz files too)');
    return 2;
  }
  const format = a.format ?? 'text';
  if (format !== 'text' && format !== 'json') {
    err(`verdict replay: --format must be text or json, not ${JSON.stringify(format)}`);
    return 2;
  }
  const examples = a.examples === undefined ? 5 : Number(a.examples);
  if (!Number.isInteger(examples) || examples < 0) {
    err(`verdict replay: --examples must be a whole number, not ${JSON.stringify(a.examples)}`);
    return 2;
  }
  let replayer: Replayer;
  let hash: string;
  try {
    const config = loadConfig(a.config, process.env, process.cwd(), { requireSecrets: false });
    const policy = loadPolicyDir(a.policies ?? config.policies.dir, a.policies === undefined ? settingOrigin(config, '/policies/dir') : undefined);
    hash = policy.hash;
    replayer = new Replayer(policy, { requireRouteId: config.policies.require_route_id, examples });
  } catch (e) {
    err(`verdict replay: ${oneLine(problemsOf(e, a.policies ?? a.config ?? '(config)'))}`);
    return 2;
  }
  try {
    for await (const { file, line, text } of mergedByTime(files)) {
      let record;
      try {
        record = JSON.parse(text) as Record<string, unknown>;
      } catch {
        err(`verdict replay: ${file}:${line}: not a JSON record (verdict audit verify tells more)`);
        return 2;
      }
      replayer.add(record);
    }
  } catch (e) {
    err(`verdict replay: ${(e as Error).message}`);
    return 2;
  }
  if (format === 'json') out(JSON.stringify(reportJson(replayer.report, hash), null, 2));
  else for (const l of reportText(replayer.report, hash)) out(l);
  return flips(replayer.report) > 0 ? 1 : 0;
}
