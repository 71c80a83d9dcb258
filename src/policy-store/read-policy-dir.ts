import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { VerdictError, describeFsError, type SettingOrigin } from '../errors.js';
import type { PolicySource } from '../policy/compile-policy.js';

/** How a file is named in problems: relative to the working directory when below it. */
export function displayName(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') ? rel : path;
}

/**
 * The policy files of a folder: `*.json` directly in it, hidden files skipped
 * (Kubernetes ConfigMap mounts keep their `..data` machinery there). Subfolders,
 * such as `tests/`, are not policies.
 */
export function readPolicyDir(dir: string, origin?: SettingOrigin): PolicySource[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    // Named by the setting that chose the folder (the config's /policies/dir), with its full
    // path: a relative default resolved against an unexpected working directory is the usual cause.
    const problem = origin
      ? { file: origin.file, pointer: origin.pointer, message: `cannot read the policy folder ${dir}: ${describeFsError(e, 'folder')}; set policies.dir (or VERDICT_POLICIES_DIR) to the folder that holds your *.json policy files` }
      : { file: displayName(dir), pointer: '', message: `cannot read the policy folder: ${describeFsError(e, 'folder')}` };
    throw new VerdictError('POLICY_UNREADABLE', `cannot read policy folder ${dir}`, { problems: [problem] });
  }
  const out: PolicySource[] = [];
  for (const n of names.sort()) {
    if (n.startsWith('.') || !n.endsWith('.json')) continue;
    const path = join(dir, n);
    try {
      if (!statSync(path).isFile()) continue;
      out.push({ name: displayName(path), text: readFileSync(path, 'utf8') });
    } catch (e) {
      throw new VerdictError('POLICY_UNREADABLE', `cannot read policy file ${path}`, {
        problems: [{ file: displayName(path), pointer: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }],
      });
    }
  }
  return out;
}
