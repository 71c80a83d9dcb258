import { readFileSync } from 'node:fs';
import { checkRequestFromJson } from '../envoy/check-request-json.js';
import { identityFromConfig } from '../identity/from-config.js';
import { NO_IDENTITY } from '../identity/identity-result.js';
import { denial } from '../policy/decision.js';
import { evaluate } from '../policy/evaluate.js';
import { factsFromCheckRequest } from '../request/from-check-request.js';
import { err, loadForCommand, out } from './io.js';

/** One decision with no server and no audit record, printed as JSON. */
export async function explain(configFile: string | undefined, requestFile: string): Promise<number> {
  const loaded = loadForCommand(configFile);
  if (!loaded) return 2;
  const { config, policy } = loaded;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(requestFile, 'utf8'));
  } catch (e) {
    err(`verdict: ${requestFile}: cannot read the request: ${(e as Error).message}`);
    return 2;
  }
  const now = Date.now();
  const built = factsFromCheckRequest(checkRequestFromJson(json), { xffTrustedHops: config.request.xff_trusted_hops });
  let identity = NO_IDENTITY;
  let decision;
  if (!built.ok) {
    decision = denial(400, [built.reason], built.facts.routeId, built.detail);
  } else {
    identity = await identityFromConfig(config).resolve(built.facts, now);
    decision = evaluate(policy, built.facts, identity.kind === 'principal' ? identity.principal : undefined, now, {
      requireRouteId: config.policies.require_route_id,
      identityError: identity.kind === 'invalid' ? identity.reason : undefined,
    });
  }
  const p = identity.kind === 'principal' ? identity.principal : undefined;
  out(
    JSON.stringify(
      {
        decision: decision.allow ? 'allow' : 'deny',
        status: decision.status,
        route: decision.route ?? null,
        reasons: decision.reasons,
        identity: p ? { method: p.method, issuer: p.issuer, user: p.subject, email: p.email ?? null, groups: p.groups } : null,
        identity_error: identity.kind === 'invalid' ? identity.detail : undefined,
        detail: decision.detail,
        path: built.facts.path,
        host: built.facts.host,
        policy_hash: policy.hash,
      },
      null,
      2,
    ),
  );
  return 0;
}
