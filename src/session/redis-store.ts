import { createClient } from 'redis';
import { VerdictError } from '../errors.js';
import type { Sealer } from './sealer.js';
import { userKey, type SessionRecord, type SessionStore } from './session-store.js';

// The client type as createClient returns it with our options.
function newClient(url: string, maxPending = MAX_PENDING) {
  // A bounded queue: during a stall (a frozen Redis keeps its TCP connection open) commands
  // beyond this are refused at once instead of piling up in memory.
  return createClient({ url, disableOfflineQueue: true, commandsQueueMaxLength: maxPending, socket: { connectTimeout: 3000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) } });
}

/** Commands waiting for Redis at most; more are refused (the check answers 503). */
const MAX_PENDING = 1000;
/** How often Redis is pinged to tell a frozen server from a quiet one. */
const PING_EVERY_MS = 1000;

export interface RedisStoreOptions {
  /** Each command's time limit; a frozen Redis makes commands fail after this, not hang. */
  readonly commandTimeoutMs?: number;
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
  readonly #raw: Client;
  readonly #client: Client;
  readonly #sealer: Sealer;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  /** False from a ping that failed or timed out until one succeeds: Redis is stalled. */
  #responsive = true;
  #pinging = false;
  readonly #pinger: NodeJS.Timeout;

  private constructor(client: Client, sealer: Sealer, prefix: string, options: RedisStoreOptions) {
    this.#raw = client;
    this.#timeoutMs = options.commandTimeoutMs ?? 1000;
    this.#client = client;
    this.#sealer = sealer;
    this.#prefix = prefix;
    this.#pinger = setInterval(() => void this.#ping(), PING_EVERY_MS);
    this.#pinger.unref();
  }

  async #ping(): Promise<void> {
    if (this.#pinging || !this.#raw.isReady) return;
    this.#pinging = true;
    try {
      await this.#bounded(this.#client.ping());
      this.#responsive = true;
    } catch {
      this.#responsive = false;
    } finally {
      this.#pinging = false;
    }
  }

  /**
   * Races a command against our own timer. We do not rely on the client's per-command timeout
   * option (set through withCommandOptions it did not fire for a SIGSTOPped server, so readiness
   * never flipped); the abandoned command stays in the client's queue, which is capped.
   */
  #bounded<T>(command: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new VerdictError('STORE_UNAVAILABLE', `the session store did not answer within ${this.#timeoutMs} ms (timeout)`)), this.#timeoutMs);
    });
    command.catch(() => undefined); // a late rejection after the timer won must not go unhandled
    return Promise.race([command, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Every command goes through here: while Redis is known stalled it is refused at once (no
   * queueing, nothing held); otherwise it runs under the command timeout, and a timeout
   * marks Redis stalled until the next ping answers.
   */
  async #run<T>(command: (c: Client) => Promise<T>): Promise<T> {
    if (!this.#responsive) throw new VerdictError('STORE_UNAVAILABLE', 'the session store does not answer (stalled)');
    try {
      return await this.#bounded(command(this.#client));
    } catch (e) {
      if (e instanceof Error && /timeout/i.test(`${e.name} ${e.message}`)) this.#responsive = false;
      throw e;
    }
  }

  /**
   * Connects, or rejects within `timeoutMs`: the reconnect strategy retries for ever (right for
   * an outage while serving), so without a bound an unreachable Redis at start hangs silently.
   */
  static async connect(url: string, sealer: Sealer, prefix: string, timeoutMs = 5000, options: RedisStoreOptions = {}): Promise<RedisSessionStore> {
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
    return new RedisSessionStore(client, sealer, prefix, options);
  }

  /** Connected and answering: a frozen Redis (connection open, no replies) is not healthy. */
  healthy(): boolean {
    return this.#raw.isReady && this.#responsive;
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
    await this.#run((c) => c.multi().set(this.#s(record.sid), sealed, { expiration: { type: 'PXAT', value: record.expiresAt } }).sAdd(this.#u(record.issuer, record.subject), record.sid).exec());
  }

  async get(sid: string): Promise<SessionRecord | undefined> {
    const raw = await this.#run((c) => c.get(this.#s(sid)));
    if (raw === null) return undefined;
    const payload = await this.#sealer.open(raw, 'session-record', Date.now());
    return payload ? (payload.r as SessionRecord) : undefined;
  }

  async delete(sid: string): Promise<boolean> {
    const record = await this.get(sid);
    const removed = await this.#run((c) => c.del(this.#s(sid)));
    if (record) await this.#run((c) => c.sRem(this.#u(record.issuer, record.subject), sid));
    return removed > 0;
  }

  async listUser(issuer: string, subject: string): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const sid of await this.#run((c) => c.sMembers(this.#u(issuer, subject)))) {
      const r = await this.get(sid);
      if (r) out.push(r);
      else await this.#run((c) => c.sRem(this.#u(issuer, subject), sid));
    }
    return out;
  }

  async setSuspended(issuer: string, subject: string, suspended: boolean): Promise<void> {
    if (suspended) await this.#run((c) => c.set(this.#x(issuer, subject), '1'));
    else await this.#run((c) => c.del(this.#x(issuer, subject)));
  }

  async isSuspended(issuer: string, subject: string): Promise<boolean> {
    return (await this.#run((c) => c.exists(this.#x(issuer, subject)))) > 0;
  }

  async close(): Promise<void> {
    clearInterval(this.#pinger);
    if (this.#raw.isOpen) await this.#raw.close();
  }
}
