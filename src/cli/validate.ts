import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/config.js';
import { loadConfig, settingOrigin } from '../config/load-config.js';
import { describeFsError, formatProblem, type Problem } from '../errors.js';
import { configuredIssuers, defaultIssuers } from '../identity/from-config.js';
import { pointerJoin } from '../policy/compile-error.js';
import { trustedIssuers } from '../policy/evaluate.js';
import { noIdentityWarning } from '../policy/identity-needs.js';
import type { PolicySet } from '../policy/policy-set.js';
import { emptyPolicyProblem, loadPolicyDir } from '../policy-store/policy-store.js';
import { out, problemsOf } from './io.js';

/**
 * Which issuers each route's identity criteria trust, one line per route, and a problem
 * for a route naming an issuer the config does not verify (it could never match).
 */
function issuerTrust(policy: PolicySet, config: Config | undefined): { lines: string[]; problems: Problem[] } {
  const known = config ? configuredIssuers(config) : [];
  const defaults = config ? defaultIssuers(config) : undefined;
  const lines: string[] = [];
  const problems: Problem[] = [];
  for (const r of policy.routes) {
    const set = trustedIssuers(r, defaults);
    const how = r.issuers ? 'route issuers' : 'default';
    lines.push(`route ${r.id}: trusts ${set ? [...set].join(', ') : 'any issuer (none configured)'} (${how})`);
    if (r.issuers && known.length > 0) {
      [...r.issuers].forEach((iss, i) => {
        if (!known.includes(iss)) problems.push({ file: r.file, pointer: pointerJoin(pointerJoin(r.pointer, 'issuers'), i), message: `issuer ${JSON.stringify(iss)} is not configured (identity.jwt[].issuer or identity.oidc.issuer): no identity could match` });
      });
    }
  }
  return { lines, problems };
}

/**
 * The key and certificate files `serve` reads at start, each readable: `validate` passing while
 * `serve` refuses over a missing key file would make validate useless before a deploy. Only
 * readability here; `serve` checks what the files hold. Secret files are read by loadConfig.
 */
function unreadableFiles(config: Config): Problem[] {
  const files: [string, string | undefined][] = [
    ['/audit/signing_key_file', (config.audit as { signing_key_file?: string }).signing_key_file],
    ['/identity/assertion/key_file', config.identity.assertion?.key_file],
    ['/grpc/tls/cert_file', config.grpc.tls?.cert_file],
    ['/grpc/tls/key_file', config.grpc.tls?.key_file],
    ['/grpc/tls/client_ca_file', config.grpc.tls?.client_ca_file],
  ];
  const problems: Problem[] = [];
  for (const [pointer, path] of files) {
    if (path === undefined) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (e) {
      problems.push({ ...settingOrigin(config, pointer), message: `cannot read ${path}: ${describeFsError(e, 'file')}` });
    }
  }
  return problems;
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

export function validate(configFile: string | undefined, policiesDir: string | undefined): number {
  const problems: Problem[] = [];
  let dir = policiesDir === undefined ? undefined : resolve(policiesDir);
  let config: Config | undefined;
  let allowEmpty = false;
  try {
    config = loadConfig(configFile);
    problems.push(...unreadableFiles(config));
    dir ??= config.policies.dir;
    allowEmpty = config.policies.allow_empty;
  } catch (e) {
    problems.push(...problemsOf(e, configFile ?? '(config)'));
  }
  let summary = '';
  let trust: string[] = [];
  if (dir !== undefined) {
    try {
      const policy = loadPolicyDir(dir, policiesDir === undefined && config ? settingOrigin(config, '/policies/dir') : undefined);
      const empty = allowEmpty ? undefined : emptyPolicyProblem(dir, policy);
      if (empty) problems.push(empty);
      summary = `${count(policy.routes.length, 'route')} in ${count(policy.files.length, 'file')}, policy hash ${policy.hash}`;
      const t = issuerTrust(policy, config);
      trust = t.lines;
      const warning = config && noIdentityWarning(config.identity.jwt.length > 0 || config.identity.oidc !== undefined, policy);
      if (warning) trust.push(`warning: ${warning}`);
      problems.push(...t.problems);
    } catch (e) {
      problems.push(...problemsOf(e, dir));
    }
  }
  for (const p of problems) out(formatProblem(p));
  if (problems.length > 0) return 1;
  out(`valid: ${summary}`);
  for (const l of trust) out(l);
  return 0;
}
