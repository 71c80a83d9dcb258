/** Rejects a check's wait when its turn to answer comes, just before the caller's deadline. */
export class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
}

interface Waiting {
  readonly deadline: number;
  /** The safety margin of this check alone: a share of its window, plus the recent audit write time. */
  readonly margin: number;
  readonly expire: () => void;
}

/**
 * A tenth of the time left, between 5 ms and 250 ms: room for the process being scheduled
 * late on a busy host. (A 200 ms Envoy timeout answers 20 ms early; a 5 s one 250 ms early.)
 */
function ownMargin(remainingMs: number): number {
  return Math.min(Math.max(5, remainingMs * 0.1), 250);
}

/** One answer's cost on the event loop (deny, audit record, response) until measured. */
const INITIAL_PER_ANSWER_MS = 2;

/**
 * The deadlines of all checks waiting on something slow (a JWKS fetch, the session store),
 * on one timer. When a thousand checks wait on the same slow JWKS their 503s are written and
 * sent one after another on one thread; each check's own timer would fire at nearly the same
 * moment and the last answers would leave after Envoy's deadline (DEADLINE_EXCEEDED). Here
 * the checks are kept in deadline order and the k-th is answered early enough for k answers:
 * its turn comes at `deadline − margin − k × cost`, where `cost` is one answer's time
 * on the loop as measured in the last burst (slower on a busy machine).
 */
export class CheckDeadlines {
  readonly #waiting: Waiting[] = [];
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #writeHighMs = 0;
  #writeAt = 0;
  #perAnswerMs = INITIAL_PER_ANSWER_MS;
  /** How late this queue's timer fired recently (a starved process): answers need that much more room. */
  #lateHighMs = 0;
  #lateAt = 0;
  /** The last burst of expiries: its answers handed to the transport tell the real cost per answer. */
  #burst: { startedAt: number; count: number; sent: number } | undefined;

  /** A recent audit write took this long: the answer path is that slow now (decays over seconds). */
  recordWrite(ms: number): void {
    const now = performance.now();
    this.#writeHighMs = Math.max(ms, decayed(this.#writeHighMs, this.#writeAt, now));
    this.#writeAt = now;
  }

  /**
   * One answer handed to the transport (serialized and framed, not only recorded: on a
   * burst grpc-js's part costs as much as Verdict's, measured ~0.45 ms each on two loaded cores).
   */
  answerSent(): void {
    const b = this.#burst;
    if (b && b.sent < b.count && ++b.sent >= 10) {
      // The n-th answer of a burst sent `t` ms after it began: at least t/n per answer.
      this.#perAnswerMs = Math.max(this.#perAnswerMs * 0.99, (performance.now() - b.startedAt) / b.sent, INITIAL_PER_ANSWER_MS / 4);
    }
  }

  /** Extra room for a slow answer path and a starved process, from the last seconds. */
  #slack(now: number): number {
    return 2 * decayed(this.#writeHighMs, this.#writeAt, now) + decayed(this.#lateHighMs, this.#lateAt, now);
  }

  /** The margin for a check with this much time left, counting the crowd already waiting. */
  marginMs(remainingMs: number): number {
    const own = ownMargin(remainingMs) + this.#slack(performance.now());
    return Math.min(own + (this.#waiting.length + 1) * this.#perAnswerMs, remainingMs / 2);
  }

  /** Settles with the work, or rejects with DeadlineExceeded when this check must answer. */
  race<T>(work: Promise<T>, deadlineMs: number | undefined): Promise<T> {
    if (deadlineMs === undefined || !Number.isFinite(deadlineMs)) return work;
    return new Promise<T>((resolve, reject) => {
      const remaining = deadlineMs - Date.now();
      const entry: Waiting = {
        deadline: deadlineMs,
        margin: Math.min(ownMargin(remaining) + this.#slack(performance.now()), remaining / 2),
        expire: () => reject(new DeadlineExceeded('deadline exceeded while verifying identity')),
      };
      this.#insert(entry);
      work.then(
        (v) => {
          if (this.#remove(entry)) resolve(v);
        },
        (e: unknown) => {
          if (this.#remove(entry)) reject(e);
        },
      );
    });
  }

  #insert(entry: Waiting): void {
    const w = this.#waiting;
    let lo = 0;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (w[mid]!.deadline <= entry.deadline) lo = mid + 1;
      else hi = mid;
    }
    w.splice(lo, 0, entry);
    this.#arm();
  }

  #remove(entry: Waiting): boolean {
    const i = this.#waiting.indexOf(entry);
    if (i < 0) return false;
    this.#waiting.splice(i, 1);
    if (this.#waiting.length === 0) this.#disarm();
    return true;
  }

  /** The moment the earliest turn comes: min over k of deadline_k − margin_k − (k+1)·cost. */
  #nextTurn(): number {
    let at = Number.POSITIVE_INFINITY;
    for (let k = 0; k < this.#waiting.length; k++) {
      const e = this.#waiting[k]!;
      at = Math.min(at, e.deadline - e.margin - (k + 1) * this.#perAnswerMs);
    }
    return at;
  }

  #arm(): void {
    const at = this.#nextTurn();
    if (at >= this.#timerAt) return;
    this.#disarm();
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - Date.now()));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #fire(): void {
    const now = Date.now();
    // A timer firing late means the process is not getting the CPU it needs: later turns come earlier.
    const late = now - this.#timerAt;
    if (late > 0) {
      const at = performance.now();
      this.#lateHighMs = Math.max(late, decayed(this.#lateHighMs, this.#lateAt, at));
      this.#lateAt = at;
    }
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    // Every check up to the last one whose turn has come answers now, in deadline order.
    let last = -1;
    for (let k = 0; k < this.#waiting.length; k++) {
      const e = this.#waiting[k]!;
      if (now >= e.deadline - e.margin - (k + 1) * this.#perAnswerMs) last = k;
    }
    // (Answered all at once: the audit group commit then writes them in one batch; in
    // chunks, each chunk would wait for its own write, and on a busy disk that is slower.)
    const due = this.#waiting.splice(0, last + 1);
    if (due.length > 0 && (!this.#burst || this.#burst.sent >= this.#burst.count)) this.#burst = { startedAt: performance.now(), count: 0, sent: 0 };
    if (this.#burst) this.#burst.count += due.length;
    for (const e of due) e.expire();
    if (this.#waiting.length > 0) this.#arm();
  }
}

/** A high-water mark that fades over a few seconds. */
function decayed(high: number, at: number, now: number): number {
  return high * Math.exp(-(now - at) / 3000);
}
