import { sleep } from "../util/sleep.js";

/** Client-side write rate limit: `qps` tokens a second, up to `burst` saved. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  #tail: Promise<void> = Promise.resolve();

  constructor(
    readonly qps: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`invalid rate limit: qps ${qps}, burst ${burst}`);
    this.#tokens = burst;
    this.#last = now();
  }

  /** Resolves when a token is available; callers are served in order. */
  take(): Promise<void> {
    const next = this.#tail.then(() => this.#wait());
    this.#tail = next;
    return next;
  }

  /** Takes a token if one is available now, without waiting; false when the bucket is empty. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #refill(): void {
    const t = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) / 1000) * this.qps);
    this.#last = t;
  }

  async #wait(): Promise<void> {
    for (;;) {
      this.#refill();
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      await sleep(Math.ceil(((1 - this.#tokens) / this.qps) * 1000));
    }
  }
}
