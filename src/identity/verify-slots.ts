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
  /** Shed while queued (its place is skipped when a slot frees). */
  shed: boolean;
}

export class VerifySlots {
  readonly #limit: number;
  readonly #maxQueue: number;
  readonly #now: () => number;
  /** Start times of the verifications running now, oldest first. */
  readonly #running: number[] = [];
  readonly #queue: Waiter[] = [];
  #head = 0;
  #queued = 0;
  /** Moving average of one verification's wall time, ms. */
  #avgMs = 1;
  /** The pace the queue was last checked against (see #prune). */
  #prunedAtMs = 1;

  constructor(limit: number, maxQueue: number, now: () => number = Date.now) {
    this.#limit = Math.max(1, limit);
    this.#maxQueue = maxQueue;
    this.#now = now;
  }

  get inFlight(): number {
    return this.#running.length;
  }

  get queued(): number {
    return this.#queued;
  }

  /**
   * One verification's time as things are now: the moving average, or longer when the oldest
   * running verification has already taken longer. (On a busy event loop completions are
   * rare — each waits for a turn of the loop — so the average alone, learning only from
   * completions, stays at its idle value while the queue grows: measured, 2 verifications
   * in a second with 800 checks queued behind them and none shed.)
   */
  #paceMs(now: number): number {
    const oldest = this.#running[0];
    return oldest === undefined ? this.#avgMs : Math.max(this.#avgMs, now - oldest);
  }

  /** Resolves true with a slot held (call `release`), or false: shed, do not verify. */
  acquire(deadline: Deadline): Promise<boolean> {
    const now = this.#now();
    if (this.#running.length < this.#limit && this.#queued === 0) {
      this.#running.push(now);
      return Promise.resolve(true);
    }
    if (this.#queued >= this.#maxQueue) return Promise.resolve(false);
    const pace = this.#paceMs(now);
    if (pace > 2 * this.#prunedAtMs) this.#prune(now, pace);
    // Expected wait: the queue ahead drains `limit` at a time at the current pace.
    if (now + ((this.#queued + 1) / this.#limit + 1) * pace > deadline.ms) return Promise.resolve(false);
    this.#queued++;
    return new Promise((resolve) => this.#queue.push({ deadline, resolve, shed: false }));
  }

  /**
   * The pace got much slower than when the queue was last checked: shed the waiters that can
   * no longer finish in time now, rather than when their turn comes after their deadline.
   * Runs only when the pace doubles, so a long queue is walked a few times, not per arrival.
   */
  #prune(now: number, pace: number): void {
    this.#prunedAtMs = pace;
    let ahead = 0;
    for (let i = this.#head; i < this.#queue.length; i++) {
      const w = this.#queue[i]!;
      if (w.shed) continue;
      if (now + ((ahead + 1) / this.#limit + 1) * pace > w.deadline.ms) {
        w.shed = true;
        this.#queued--;
        w.resolve(false);
      } else ahead++;
    }
  }

  release(tookMs: number): void {
    this.#avgMs = this.#avgMs * 0.9 + Math.max(0.05, tookMs) * 0.1;
    this.#running.shift();
    const now = this.#now();
    if (this.#running.length === 0) this.#prunedAtMs = Math.max(1, this.#avgMs);
    while (this.#head < this.#queue.length) {
      const w = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as never;
      if (w.shed) continue;
      this.#queued--;
      if (now + this.#avgMs > w.deadline.ms) {
        w.resolve(false);
        continue;
      }
      this.#compact();
      this.#running.push(now);
      w.resolve(true); // the slot passes straight to the waiter
      return;
    }
    this.#compact();
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
