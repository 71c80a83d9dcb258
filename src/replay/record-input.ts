import type { AuditRecord } from '../audit/record.js';
import type { Principal } from '../identity/principal.js';
import type { TailnetIdentity } from '../identity/tailnet-identity.js';
import type { RequestFacts } from '../request/facts.js';

/** What a recorded decision lets replay rebuild, and the facts it lacked that were asked for. */
export interface ReplayInput {
  readonly facts: RequestFacts;
  readonly principal: Principal | undefined;
  readonly tailnet: TailnetIdentity | undefined;
  readonly nowMs: number;
  /** `invalid-token` / `invalid-session` when the original request carried a bad credential. */
  readonly identityError: string | undefined;
  /** Facts the evaluation read that the record does not hold (filled while evaluating). */
  readonly missing: Set<string>;
}

/** What the trail said about its own recording (start records), as replay walks it. */
export interface TrailSettings {
  /** `audit.include_headers` of the server that wrote the records; undefined until a start record is seen. */
  headers: ReadonlySet<string> | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strs = (v: unknown): readonly string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * Headers as the original request had them, as far as the record tells: a header the record
 * holds, or one the server recorded and the request lacked. Any other header was not
 * recorded: reading it marks the replay undecidable, never a guess.
 */
class RecordedHeaders extends Map<string, string> {
  constructor(
    entries: [string, string][],
    private readonly known: ReadonlySet<string> | undefined,
    private readonly missing: Set<string>,
  ) {
    super(entries);
  }

  override get(name: string): string | undefined {
    const v = super.get(name);
    if (v === undefined && !this.known?.has(name)) this.missing.add(`header ${name} (not in audit.include_headers)`);
    return v;
  }

  override has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

/**
 * The request facts and identity of one decision record, as plain data for `evaluate`.
 * Fields the record lost to `audit.redact` (or never had) are getters that name the missing
 * fact when the policy reads them.
 */
export function replayInput(r: AuditRecord, settings: TrailSettings): ReplayInput {
  const missing = new Set<string>();
  const redacted = new Set(strs(r['verdict.redacted']));
  const field = <T>(key: string, value: T): T => {
    if (redacted.has(key)) missing.add(`${key} (redacted)`);
    return value;
  };

  const headers: [string, string][] = [];
  for (const [k, v] of Object.entries(r)) if (k.startsWith('http.request.header.') && typeof v === 'string') headers.push([k.slice(20), v]);
  const query = str(r['url.query']);
  const facts: RequestFacts = {
    get method() {
      return field('http.request.method', str(r['http.request.method']) ?? '');
    },
    // Recorded when the request had any (the headers and query they came from may not be).
    methodOverrides: strs(r['verdict.method_overrides']),
    get scheme() {
      return field('url.scheme', str(r['url.scheme']) ?? '');
    },
    get host() {
      return field('server.address', str(r['server.address']) ?? '');
    },
    get path() {
      return field('url.path', str(r['url.path']) ?? '');
    },
    get query() {
      // The query is recorded only on opt-in; no criterion reads it today.
      if (query === undefined) missing.add('url.query (audit.include_query off)');
      return query ?? '';
    },
    headers: new RecordedHeaders(headers, settings.headers, missing),
    get sourceIp() {
      return field('client.address', str(r['client.address']));
    },
    get sourcePort() {
      return field('client.port', typeof r['client.port'] === 'number' ? r['client.port'] : undefined);
    },
    // The tailnet identity is recorded (below), not looked up again.
    peerIp: undefined,
    // Tells tailnet listeners apart; the tailnet identity itself is recorded (below).
    destinationIp: undefined,
    requestId: str(r['http.request.id']),
    routeId: str(r['verdict.envoy_route']),
    protocol: str(r['network.protocol.name']),
  };

  const method = r['verdict.auth_method'];
  let principal: Principal | undefined;
  if (method === 'jwt' || method === 'session') {
    const recordedClaims = r['verdict.claims'];
    const claimsOf = recordedClaims !== null && typeof recordedClaims === 'object' ? (recordedClaims as Record<string, unknown>) : {};
    // Claims the policy of the time read were recorded (null: the identity lacked it); others were not.
    const claims = new Proxy(Object.create(null) as Record<string, unknown>, {
      getOwnPropertyDescriptor(_t, name) {
        if (typeof name !== 'string') return undefined;
        if (!Object.hasOwn(claimsOf, name)) {
          missing.add(redacted.has('verdict.claims') ? 'verdict.claims (redacted)' : `claim ${name} (not recorded: no route read it when the decision was made)`);
          return undefined;
        }
        const v = claimsOf[name];
        return v === null ? undefined : { value: v, writable: false, enumerable: true, configurable: true };
      },
      get(_t, name) {
        if (typeof name !== 'string' || !Object.hasOwn(claimsOf, name)) return undefined;
        return claimsOf[name] === null ? undefined : claimsOf[name];
      },
    });
    principal = {
      method,
      get issuer() {
        return field('verdict.issuer', str(r['verdict.issuer']) ?? '');
      },
      get subject() {
        return field('user.id', str(r['user.id']) ?? '');
      },
      get email() {
        return field('user.email', str(r['user.email']));
      },
      get groups() {
        return field('user.roles', strs(r['user.roles']));
      },
      claims,
      get authTime() {
        const t = r['verdict.auth_time'];
        if (typeof t !== 'number') missing.add(redacted.has('verdict.auth_time') ? 'verdict.auth_time (redacted)' : 'verdict.auth_time (not recorded)');
        return typeof t === 'number' ? t : undefined;
      },
      expiresAt: undefined,
    };
  }

  const node = str(r['verdict.tailnet.node']);
  const tailnet: TailnetIdentity | undefined = node === undefined ? undefined : { node, user: str(r['verdict.tailnet.user']), tags: strs(r['verdict.tailnet.tags']) };
  const reasons = strs(r['verdict.reasons']);
  const identityError = reasons.includes('invalid-token') ? 'invalid-token' : reasons.includes('invalid-session') ? 'invalid-session' : reasons.includes('user-suspended') ? 'user-suspended' : undefined;
  return { facts, principal, tailnet, nowMs: Date.parse(String(r.time)), identityError, missing };
}
