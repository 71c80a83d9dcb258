/**
 * A bound on signature verifications in flight, with load shedding: a verification that
 * cannot start (and finish, at the measured pace) before its caller's deadline is refused
 * at once rather than queued, so after a restart the work done is work someone still waits
 * for. `deadline.ms` may be raised while queued (more checks joined the same token).
 */
export interface Deadline {
  ms: number;
}

interface Waiter {
  readonly deadline: Deadline;
  readonly resolve: (granted: boolean) => void;
}

export class VerifySlots {
  readonly #limit: number;
  readonly #maxQueue: number;
  readonly #now: () => number;
  #busy = 0;
  readonly #queue: Waiter[] = [];
  #head = 0;
  /** Moving average of one verification's wall time, ms. */
  #avgMs = 1;

  constructor(limit: number, maxQueue: number, now: () => number = Date.now) {
    this.#limit = Math.max(1, limit);
    this.#maxQueue = maxQueue;
    this.#now = now;
  }

  get inFlight(): number {
    return this.#busy;
  }

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Resolves true with a slot held (call `release`), or false: shed, do not verify. */
  acquire(deadline: Deadline): Promise<boolean> {
    if (this.#busy < this.#limit && this.queued === 0) {
      this.#busy++;
      return Promise.resolve(true);
    }
    if (this.queued >= this.#maxQueue) return Promise.resolve(false);
    // Expected wait: the queue ahead drains `limit` at a time at the measured pace.
    const expectedDoneMs = this.#now() + ((this.queued + 1) / this.#limit + 1) * this.#avgMs;
    if (expectedDoneMs > deadline.ms) return Promise.resolve(false);
    return new Promise((resolve) => this.#queue.push({ deadline, resolve }));
  }

  release(tookMs: number): void {
    this.#avgMs = this.#avgMs * 0.9 + Math.max(0.05, tookMs) * 0.1;
    const now = this.#now();
    while (this.#head < this.#queue.length) {
      const w = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as never;
      if (now + this.#avgMs > w.deadline.ms) {
        w.resolve(false);
        continue;
      }
      this.#compact();
      w.resolve(true); // the slot passes straight to the waiter
      return;
    }
    this.#compact();
    this.#busy--;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
