import { classifyApiError, type ApiErrorKind } from "../kube/errors.js";
import type { Clock } from "../util/clock.js";
import { describeError } from "../util/errors.js";

/** A failed lock operation, naming the lock and the operation; never contains credentials. */
export class LeaderElectionError extends Error {
  override readonly name = "LeaderElectionError";
  /** The lock's description, e.g. `lease ns/name`. */
  readonly lock: string;
  readonly operation: string;
  /** How core classifies the API server's answer (`conflict`, `not-found`, ...); undefined when there was none. */
  readonly kind: ApiErrorKind | undefined;
  /** HTTP status when the API server answered. */
  readonly status: number | undefined;

  constructor(
    lock: string,
    operation: string,
    detail: string,
    options: { cause?: unknown; status?: number; kind?: ApiErrorKind } = {},
  ) {
    super(`${lock}: ${operation}: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.lock = lock;
    this.operation = operation;
    this.kind = options.kind;
    this.status = options.status;
  }

  /** The lock changed or vanished since it was read: read it again rather than back off. */
  get isStale(): boolean {
    return this.kind === "conflict" || this.kind === "not-found";
  }
}

/**
 * Runs one lock operation with a timeout (on `clock`) and `parent`'s cancellation; any failure
 * becomes a {@link LeaderElectionError}.
 */
export async function callLock<T>(
  clock: Clock,
  at: { lock: string; operation: string },
  parent: AbortSignal,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timedOut = false;
  const onParentAbort = (): void => controller.abort(parent.reason);
  parent.addEventListener("abort", onParentAbort, { once: true });
  if (parent.aborted) controller.abort(parent.reason);
  const timer = clock.setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${Math.round(timeoutMs)} ms`));
  }, timeoutMs);
  try {
    return await fn(controller.signal);
  } catch (err) {
    if (timedOut)
      throw new LeaderElectionError(at.lock, at.operation, `timed out after ${Math.round(timeoutMs)} ms`, {
        cause: err,
      });
    if (controller.signal.aborted) throw new LeaderElectionError(at.lock, at.operation, "aborted", { cause: err });
    const { kind, status } = classifyApiError(err);
    const answered = status === undefined ? {} : { kind, status };
    throw new LeaderElectionError(at.lock, at.operation, describeError(err), { cause: err, ...answered });
  } finally {
    clock.clearTimeout(timer);
    parent.removeEventListener("abort", onParentAbort);
  }
}
