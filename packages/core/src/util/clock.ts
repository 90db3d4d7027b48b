/** An opaque handle returned by {@link Clock.setTimeout}. */
export type Timer = unknown;

/**
 * Time and timers, injected so tests can move time by hand instead of waiting.
 * Production code uses {@link systemClock}; tests use {@link ManualClock}.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): Timer;
  clearTimeout(timer: Timer): void;
}

/** Node's timers accept at most 2^31-1 ms; a longer delay fires at once (with a warning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `delayMs` made safe for `setTimeout`: not negative, not NaN, and never above {@link MAX_TIMER_MS}. */
export function clampTimerMs(delayMs: number): number {
  if (!(delayMs > 0)) return 0;
  return Math.min(delayMs, MAX_TIMER_MS);
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, clampTimerMs(delayMs)),
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

/** A clock that only moves when told to. Timers fire in due order inside {@link ManualClock.advance}. */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, ManualTimer>();

  constructor(start: Date | number = Date.UTC(2030, 0, 1)) {
    this.#now = typeof start === "number" ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): Timer {
    const id = ++this.#seq;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(timer: Timer): void {
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
      const next = this.#nextDue(target);
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

  #nextDue(target: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.#timers.values()) {
      if (t.at > target) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    }
    return best;
  }
}
