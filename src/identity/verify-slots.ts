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
  #running = 0;
  readonly #queue: Waiter[] = [];
  #head = 0;
  #queued = 0;
  /** Moving average of one verification's wall time, ms. */
  #avgMs = 1;
  /** Moving average of the time between completions while every slot is busy, ms. */
  #intervalMs: number;
  /** When a verification last finished, and since when every slot has been busy. */
  #lastDoneAt = 0;
  #fullSince = 0;
  /** The pace the queue was last checked against (see #prune). */
  #prunedAtMs: number;

  constructor(limit: number, maxQueue: number, now: () => number = Date.now) {
    this.#limit = Math.max(1, limit);
    this.#maxQueue = maxQueue;
    this.#now = now;
    this.#intervalMs = this.#avgMs / this.#limit;
    this.#prunedAtMs = this.#intervalMs;
  }

  get inFlight(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queued;
  }

  /**
   * The time between two verifications finishing, as things are now: the measured interval,
   * or longer when no verification has finished for longer than that with every slot busy.
   * (On a busy event loop completions are rare — each waits for a turn of the loop — and an
   * average learnt only from completions stays at its idle value while the queue grows:
   * measured, 2 verifications in a second with 800 checks queued behind them, none shed.)
   */
  #paceMs(now: number): number {
    if (this.#running < this.#limit) return this.#intervalMs;
    return Math.max(this.#intervalMs, now - Math.max(this.#lastDoneAt, this.#fullSince));
  }

  /** When a verification queued behind `ahead` others would be done, at this pace. */
  #expectedDone(now: number, ahead: number, pace: number): number {
    return now + (ahead + 1) * pace + this.#avgMs;
  }

  #start(now: number): void {
    if (++this.#running === this.#limit) this.#fullSince = now;
  }

  /** Resolves true with a slot held (call `release`), or false: shed, do not verify. */
  acquire(deadline: Deadline): Promise<boolean> {
    const now = this.#now();
    if (this.#running < this.#limit && this.#queued === 0) {
      this.#start(now);
      return Promise.resolve(true);
    }
    if (this.#queued >= this.#maxQueue) return Promise.resolve(false);
    const pace = this.#paceMs(now);
    if (pace > 2 * this.#prunedAtMs) this.#prune(now, pace);
    if (this.#expectedDone(now, this.#queued, pace) > deadline.ms) return Promise.resolve(false);
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
      if (this.#expectedDone(now, ahead, pace) > w.deadline.ms) {
        w.shed = true;
        this.#queued--;
        w.resolve(false);
      } else ahead++;
    }
  }

  release(tookMs: number): void {
    const now = this.#now();
    this.#avgMs = this.#avgMs * 0.9 + Math.max(0.05, tookMs) * 0.1;
    // The gap since the previous completion tells the pace only while the slots were all busy.
    if (this.#running === this.#limit || this.#queued > 0) {
      const gap = now - Math.max(this.#lastDoneAt, this.#fullSince);
      this.#intervalMs = this.#intervalMs * 0.9 + Math.max(0.01, gap) * 0.1;
    }
    this.#lastDoneAt = now;
    this.#running--;
    if (this.#running === 0 && this.#queued === 0) this.#prunedAtMs = Math.max(this.#intervalMs, this.#avgMs / this.#limit);
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
      this.#start(now);
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
