/** An opaque handle returned by {@link PollingClock.setTimeout}. */
export type PollingTimer = unknown;

/**
 * Time as a polling source sees it. Injected so tests can move time by hand instead of waiting;
 * production code uses {@link systemClock}.
 */
export interface PollingClock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): PollingTimer;
  clearTimeout(timer: PollingTimer): void;
}

/** Node's timers accept at most 2^31-1 ms; longer delays would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: PollingClock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, Math.min(Math.max(0, delayMs), MAX_TIMER_MS)),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};

interface ManualTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/** Lets pending promise callbacks and I/O-free async work run to completion. */
export async function flushAsync(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A clock that only moves when told to, for tests of polling sources (and of plugins built on them).
 * Timers fire in due order inside {@link ManualClock.advance}.
 */
export class ManualClock implements PollingClock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, ManualTimer>();

  constructor(start: Date | number = Date.UTC(2030, 0, 1)) {
    this.#now = typeof start === "number" ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): PollingTimer {
    const id = ++this.#seq;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(timer: PollingTimer): void {
    if (typeof timer === "number") this.#timers.delete(timer);
  }

  /** Delays (from now) of the timers still pending, soonest first. */
  pendingDelays(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer that falls due and letting its async work settle. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      const next = [...this.#timers.values()].filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
      await flushAsync();
    }
    this.#now = target;
    await flushAsync();
  }

  /** Moves time to the next pending timer and fires it. Returns the delay it had, or undefined. */
  async advanceToNext(): Promise<number | undefined> {
    const delay = this.pendingDelays()[0];
    if (delay === undefined) return undefined;
    await this.advance(delay);
    return delay;
  }
}
