import { createClient } from 'redis';
import type { Sealer } from './sealer.js';
import { userKey, type SessionRecord, type SessionStore } from './session-store.js';

// The client type as createClient returns it with our options.
function newClient(url: string) {
  return createClient({ url, disableOfflineQueue: true, socket: { connectTimeout: 3000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) } });
}
type Client = ReturnType<typeof newClient>;

/**
 * Sessions in Redis, shared by every replica: a revocation or suspension written by one is
 * read by all on their next request (each request reads the store, nothing is cached), so
 * it takes effect at once. Records are sealed with the session key (they hold refresh
 * tokens and personal data). With Redis unreachable every call rejects at once (no offline
 * queue), and the decision fails closed with 503.
 */
export class RedisSessionStore implements SessionStore {
  readonly #client: Client;
  readonly #sealer: Sealer;
  readonly #prefix: string;

  private constructor(client: Client, sealer: Sealer, prefix: string) {
    this.#client = client;
    this.#sealer = sealer;
    this.#prefix = prefix;
  }

  /**
   * Connects, or rejects within `timeoutMs`: the reconnect strategy retries for ever (right for
   * an outage while serving), so without a bound an unreachable Redis at start hangs silently.
   */
  static async connect(url: string, sealer: Sealer, prefix: string, timeoutMs = 5000): Promise<RedisSessionStore> {
    const client = newClient(url);
    let lastError: Error | undefined;
    // Errors surface as rejected commands; the listener only keeps them from crashing the process.
    client.on('error', (e: Error) => (lastError = e));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms${lastError ? ` (${lastError.message || lastError.name})` : ''}`)), timeoutMs);
    });
    try {
      await Promise.race([client.connect(), timedOut]);
    } catch (e) {
      client.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return new RedisSessionStore(client, sealer, prefix);
  }

  healthy(): boolean {
    return this.#client.isReady;
  }

  #s(sid: string): string {
    return `${this.#prefix}session:${sid}`;
  }

  #u(issuer: string, subject: string): string {
    return `${this.#prefix}user:${userKey(issuer, subject)}`;
  }

  #x(issuer: string, subject: string): string {
    return `${this.#prefix}suspended:${userKey(issuer, subject)}`;
  }

  async put(record: SessionRecord): Promise<void> {
    const ttl = Math.max(1, Math.ceil((record.expiresAt - Date.now()) / 1000));
    const sealed = await this.#sealer.seal({ r: record as unknown as Record<string, unknown> }, 'session-record', ttl, Date.now());
    await this.#client.multi().set(this.#s(record.sid), sealed, { expiration: { type: 'PXAT', value: record.expiresAt } }).sAdd(this.#u(record.issuer, record.subject), record.sid).exec();
  }

  async get(sid: string): Promise<SessionRecord | undefined> {
    const raw = await this.#client.get(this.#s(sid));
    if (raw === null) return undefined;
    const payload = await this.#sealer.open(raw, 'session-record', Date.now());
    return payload ? (payload.r as SessionRecord) : undefined;
  }

  async delete(sid: string): Promise<boolean> {
    const record = await this.get(sid);
    const removed = await this.#client.del(this.#s(sid));
    if (record) await this.#client.sRem(this.#u(record.issuer, record.subject), sid);
    return removed > 0;
  }

  async listUser(issuer: string, subject: string): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const sid of await this.#client.sMembers(this.#u(issuer, subject))) {
      const r = await this.get(sid);
      if (r) out.push(r);
      else await this.#client.sRem(this.#u(issuer, subject), sid);
    }
    return out;
  }

  async setSuspended(issuer: string, subject: string, suspended: boolean): Promise<void> {
    if (suspended) await this.#client.set(this.#x(issuer, subject), '1');
    else await this.#client.del(this.#x(issuer, subject));
  }

  async isSuspended(issuer: string, subject: string): Promise<boolean> {
    return (await this.#client.exists(this.#x(issuer, subject))) > 0;
  }

  async close(): Promise<void> {
    if (this.#client.isOpen) await this.#client.close();
  }
}
