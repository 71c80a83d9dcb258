import { userKey, type SessionRecord, type SessionStore } from './session-store.js';

/** Sessions in this process only: the default, for a single replica. */
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #byUser = new Map<string, Set<string>>();
  readonly #suspended = new Set<string>();

  async put(record: SessionRecord): Promise<void> {
    this.#sessions.set(record.sid, record);
    const key = userKey(record.issuer, record.subject);
    let set = this.#byUser.get(key);
    if (!set) this.#byUser.set(key, (set = new Set()));
    set.add(record.sid);
  }

  async get(sid: string): Promise<SessionRecord | undefined> {
    const r = this.#sessions.get(sid);
    if (r && r.expiresAt <= Date.now()) {
      await this.delete(sid);
      return undefined;
    }
    return r;
  }

  async delete(sid: string): Promise<boolean> {
    const r = this.#sessions.get(sid);
    if (!r) return false;
    this.#sessions.delete(sid);
    this.#byUser.get(userKey(r.issuer, r.subject))?.delete(sid);
    return true;
  }

  async listUser(issuer: string, subject: string): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const sid of this.#byUser.get(userKey(issuer, subject)) ?? []) {
      const r = await this.get(sid);
      if (r) out.push(r);
    }
    return out;
  }

  async setSuspended(issuer: string, subject: string, suspended: boolean): Promise<void> {
    if (suspended) this.#suspended.add(userKey(issuer, subject));
    else this.#suspended.delete(userKey(issuer, subject));
  }

  async isSuspended(issuer: string, subject: string): Promise<boolean> {
    return this.suspendedNow(issuer, subject);
  }

  /** The same answer without a promise: it is in memory (a decision then need not wait). */
  suspendedNow(issuer: string, subject: string): boolean {
    return this.#suspended.has(userKey(issuer, subject));
  }

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {}
}
