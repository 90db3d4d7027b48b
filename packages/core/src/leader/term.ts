import type { Clock, Timer } from "../util/clock.js";
import { stepDownAt } from "./decisions.js";

/** The `reason` of an aborted `leaderSignal`; its message says why leadership ended. */
export class LeadershipEnded extends Error {
  override readonly name = "LeadershipEnded";
}

/** Why a term ended: the lock was lost, the election was cancelled, or the leader work failed. */
export type TermOutcome = { kind: "lost"; reason: string } | { kind: "cancelled" } | { kind: "failed"; error: unknown };

export interface TermOptions {
  /** The lock's description, for the LeadershipEnded message. */
  readonly lock: string;
  readonly clock: Clock;
  readonly renewDeadlineMs: number;
  /** When the term's last successful write was sent. */
  readonly acquiredAtMs: number;
  /** Runs just before `leaderSignal` aborts, so abort handlers that ask "am I leader?" hear no. */
  readonly onLeadershipEnd: () => void;
  /** The lock was lost (renewals failed until the deadline, or another replica holds it). */
  readonly onLost: (reason: string) => void;
  /** The leader work rejected; `endedTerm` when that ended the term (it was still leading). */
  readonly onWorkError: (error: unknown, endedTerm: boolean) => void;
}

/**
 * One leadership term, from winning the lock to the end of its renew loop:
 * - `leaderSignal` aborts once, when leadership ends for whatever reason;
 * - `loopSignal` stops the renew loop: at once when the lock is lost or the work failed, but after a
 *   cancellation only once the work has settled, so the lock stays ours while the work winds down;
 * - the renew deadline is enforced by a timer, so a hanging request cannot hold it back.
 */
export class Term {
  readonly #leader = new AbortController();
  readonly #loop = new AbortController();
  readonly #options: TermOptions;
  #outcome: TermOutcome | undefined;
  #settled = false;
  #lastRenewMs: number;
  #deadline: Timer;

  constructor(options: TermOptions) {
    this.#options = options;
    this.#lastRenewMs = options.acquiredAtMs;
    this.#armDeadline();
  }

  get leaderSignal(): AbortSignal {
    return this.#leader.signal;
  }

  get loopSignal(): AbortSignal {
    return this.#loop.signal;
  }

  /** Set once the term is ending; never undefined after the renew loop stopped. */
  get outcome(): TermOutcome | undefined {
    return this.#outcome;
  }

  /** Time left before the renew deadline (<= 0: past it). */
  timeLeftMs(): number {
    return stepDownAt(this.#lastRenewMs, this.#options.renewDeadlineMs) - this.#options.clock.now();
  }

  /** A renewal sent at `sentAtMs` succeeded: the deadline moves. */
  renewed(sentAtMs: number): void {
    this.#lastRenewMs = sentAtMs;
    this.#armDeadline();
  }

  /** The lock is lost; wins over a cancellation (a lost lock is not ours to release). */
  lose(reason: string): void {
    if (this.#outcome?.kind === "lost" || this.#outcome?.kind === "failed") return;
    this.#outcome = { kind: "lost", reason };
    this.#endLeadership(reason);
    this.#loop.abort();
    this.#options.onLost(reason);
  }

  /** `run()`'s signal aborted. False when the term was already ending. */
  cancel(): boolean {
    if (this.#outcome) return false;
    this.#outcome = { kind: "cancelled" };
    this.#endLeadership("election cancelled");
    if (this.#settled) this.#loop.abort();
    return true;
  }

  /**
   * Starts the leader work with `leaderSignal`. The returned promise settles with the work and never
   * rejects: a failure while leading ends the term.
   */
  startWork(start: (leaderSignal: AbortSignal) => Promise<void> | void): Promise<void> {
    let work: Promise<void>;
    try {
      work = Promise.resolve(start(this.#leader.signal));
    } catch (err) {
      work = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return work.then(
      () => this.#workSettled(),
      (error: unknown) => this.#workSettled({ error }),
    );
  }

  #workSettled(failure?: { error: unknown }): void {
    this.#settled = true;
    const endsTerm = failure !== undefined && !this.#leader.signal.aborted;
    if (endsTerm) {
      this.#outcome = { kind: "failed", error: failure.error };
      this.#endLeadership("onStartedLeading failed");
      this.#loop.abort();
    } else if (this.#outcome?.kind === "cancelled") {
      this.#loop.abort();
    }
    if (failure) this.#options.onWorkError(failure.error, endsTerm);
  }

  /** After the renew loop: no more deadline, and leadership has certainly ended. */
  close(): TermOutcome {
    this.#options.clock.clearTimeout(this.#deadline);
    this.#outcome ??= { kind: "cancelled" };
    this.#endLeadership(this.#outcome.kind);
    return this.#outcome;
  }

  #armDeadline(): void {
    const { clock, renewDeadlineMs } = this.#options;
    clock.clearTimeout(this.#deadline);
    this.#deadline = clock.setTimeout(() => this.lose(deadlineReason(renewDeadlineMs)), this.timeLeftMs());
  }

  #endLeadership(why: string): void {
    if (this.#leader.signal.aborted) return;
    this.#options.onLeadershipEnd();
    this.#leader.abort(new LeadershipEnded(`leadership of ${this.#options.lock} ended: ${why}`));
  }
}

export function deadlineReason(renewDeadlineMs: number): string {
  return `could not renew for ${renewDeadlineMs} ms (renew deadline)`;
}
