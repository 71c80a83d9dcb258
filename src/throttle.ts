/**
 * One log line per interval for an event that can repeat thousands of times a second (a
 * failed sink, dropped syslog copies): the first occurrence is reported at once, later ones
 * are counted and reported together when the interval ends.
 */
export class Throttle {
  readonly #intervalMs: number;
  readonly #emit: (count: number) => void;
  #count = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number, emit: (count: number) => void) {
    this.#intervalMs = intervalMs;
    this.#emit = emit;
  }

  hit(n = 1): void {
    this.#count += n;
    if (this.#timer) return;
    this.#tick();
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#count === 0) return;
    const n = this.#count;
    this.#count = 0;
    this.#emit(n);
    this.#timer = setTimeout(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Reports what is counted now (shutdown). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#tick();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
