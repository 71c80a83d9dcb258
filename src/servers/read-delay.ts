import { performance } from 'node:perf_hooks';

/** Idle time (ms) that counts as the loop having waited for input, not merely polled between reads. */
const IDLE_GAP_MS = 1;

/**
 * How long a request read now may have waited unread in the socket: the time the event loop
 * has been busy without a pause. A grpc-js deadline counts from when the server *read* the
 * call's headers, the caller's from when it *sent* them; when a thousand calls arrive at
 * once, the last is read ~0.9 s after it was sent (measured on two loaded cores), and an
 * answer timed to that deadline reaches the caller after its own (DEADLINE_EXCEEDED).
 * A loop that waited for input (idle ≥ 1 ms) had nothing unread, so whatever it reads next
 * was sent after that wait; a loop busy since `since` may be reading calls sent at `since`.
 * Read from libuv's idle-time counter (`performance.eventLoopUtilization`), no timer.
 */
export class ReadDelay {
  #idle = performance.eventLoopUtilization().idle;
  #since = Date.now();

  /** ms a call read at `now` may have been waiting (0 right after an idle loop). */
  at(now: number): number {
    const idle = performance.eventLoopUtilization().idle;
    if (idle - this.#idle >= IDLE_GAP_MS) this.#since = now;
    this.#idle = idle;
    return now - this.#since;
  }

  /**
   * The caller's deadline as best known: the one read, less the time the call may have
   * waited unread, by at most a quarter of the time left: on a loop saturated for seconds the
   * busy stretch says little about any one call, and a larger cut sheds work that would have
   * finished in time (bench/README.md#restart-curve).
   */
  deadline(readDeadlineMs: number, now = Date.now()): number {
    const left = readDeadlineMs - now;
    if (left <= 0) return readDeadlineMs;
    return readDeadlineMs - Math.min(this.at(now), left / 4);
  }
}
