import { request } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { RequestFacts } from '../request/facts.js';
import type { TrustCheck } from '../request/trusted-proxies.js';
import type { TailnetIdentity } from './tailnet-identity.js';

export interface TailnetWhoisOptions {
  /** tailscaled's LocalAPI unix socket. */
  readonly socketPath: string;
  /** Envoy listener addresses that face the tailnet: only their requests are looked up. */
  readonly isTailnetListener: TrustCheck;
  readonly cacheTtlMs: number;
  readonly timeoutMs: number;
}

interface WhoisResponse {
  Node?: { Name?: unknown; Tags?: unknown };
  UserProfile?: { LoginName?: unknown };
}

/** `tagged-devices` is how tailscaled names the owner of a tagged node: no person. */
const TAGGED = 'tagged-devices';

/**
 * Asks tailscaled's LocalAPI who a tailnet peer is (`GET /localapi/v0/whois?addr=ip:port`
 * over its unix socket), for requests that came in on a tailnet-facing listener. Answers
 * are cached briefly per source address; any failure yields no identity, which the tailnet
 * criteria treat as unknown, never as a match.
 */
export class TailnetWhois {
  readonly #o: TailnetWhoisOptions;
  readonly #cache: LRUCache<string, TailnetIdentity | 'none'>;

  constructor(options: TailnetWhoisOptions) {
    this.#o = options;
    this.#cache = new LRUCache({ max: 10_000, ttl: Math.max(1, options.cacheTtlMs) });
  }

  async lookup(facts: RequestFacts): Promise<TailnetIdentity | undefined> {
    // The connection's own peer, never `sourceIp` (which `request.xff_trusted_hops` may take from
    // x-forwarded-for, an entry a tailnet node can write itself: whois on it named another node).
    const peer = facts.peerIp;
    if (!peer || !facts.destinationIp || !this.#o.isTailnetListener(facts.destinationIp)) return undefined;
    const cached = this.#cache.get(peer);
    if (cached !== undefined) return cached === 'none' ? undefined : cached;
    const host = peer.includes(':') ? `[${peer}]` : peer;
    const addr = facts.sourcePort ? `${host}:${facts.sourcePort}` : peer;
    let identity: TailnetIdentity | undefined;
    try {
      identity = parseWhois(await this.#get(`/localapi/v0/whois?addr=${encodeURIComponent(addr)}`));
    } catch {
      identity = undefined;
    }
    // Failures are remembered for a short while only, so a restarted tailscaled is seen soon.
    this.#cache.set(peer, identity ?? 'none', { ttl: identity ? this.#o.cacheTtlMs : Math.min(this.#o.cacheTtlMs, 2000) });
    return identity;
  }

  #get(path: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.#o.socketPath, path, method: 'GET', headers: { host: 'local-tailscaled.sock', 'sec-tailscale': 'localapi' }, timeout: this.#o.timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
          if (body.length > 1_000_000) req.destroy(new Error('whois answer too large'));
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`whois answered ${res.statusCode}`));
          try {
            resolve(JSON.parse(body));
          } catch (e) {
            reject(e as Error);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('whois timed out')));
      req.on('error', reject);
      req.end();
    });
  }
}

/** The parts of a whois answer Verdict uses; undefined when it is not a node. */
export function parseWhois(body: unknown): TailnetIdentity | undefined {
  const w = body as WhoisResponse;
  const name = w?.Node?.Name;
  if (typeof name !== 'string' || name === '') return undefined;
  const tags = Array.isArray(w.Node?.Tags) ? w.Node.Tags.filter((t): t is string => typeof t === 'string') : [];
  const login = w.UserProfile?.LoginName;
  return Object.freeze({
    node: name.replace(/\.$/, ''),
    tags: Object.freeze(tags),
    user: typeof login === 'string' && login !== '' && login !== TAGGED ? login : undefined,
  });
}
