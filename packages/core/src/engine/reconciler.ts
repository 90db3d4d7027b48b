import type { Logger } from "../logging/logger.js";
import { classifyApiError, type ClassifiedError } from "../kube/errors.js";
import type { EventSink } from "../kube/events.js";
import type { HandlerResult } from "../queue/work-queue.js";
import { applyActions, StalePatchError, WriteRefusedError, type ClusterWriter, type Written } from "./apply.js";
import type { EngineObserver, KeyStatus } from "./engine-types.js";
import { secretCacheKey, serviceAccountCacheKey, type Expectations } from "./expectations.js";
import { keyOf, splitKey } from "./keys.js";
import { planKey, type KeyState, type Outcome, type Plan } from "./plan.js";
import type { KeyStatuses } from "./status.js";

/** How a key is reconciled: by the long-running loop, or by a one-off pass that must end. */
export interface ReconcileMode {
  readonly once?: boolean | undefined;
}

/** A key's state, and whether the caches it is planned from have listed. */
export type KeyLookup =
  | { readonly state: KeyState; readonly listProblem?: undefined }
  | { readonly state: KeyState; readonly listProblem: string };

export interface ReconcilerDeps {
  readonly log: Logger;
  readonly observer?: EngineObserver | undefined;
  readonly instance: string;
  readonly writer: ClusterWriter;
  readonly events: EventSink | undefined;
  readonly statuses: KeyStatuses;
  readonly expectations: Expectations;
  /** The key's state; `listProblem` when its copies have not listed yet. `undefined`: no such id. */
  lookup(id: string, namespace: string): KeyLookup | undefined;
  /** Resourceversion the cache shows now for an expectation key. */
  observedVersion(cacheKey: string): string;
  /** The client-side rate limit and the leadership check; throws {@link WriteRefusedError}. */
  beforeWrite(): Promise<void>;
  /** The key reached an outcome other than an error (for progress logs). */
  settled(key: string): void;
  /** A removed mapping's key has nothing left to do: its entry may soon be pruned. */
  cleanupDone(): void;
}

/** Plans one key from the cache and applies the plan: the engine's reconcile step. */
export class KeyReconciler {
  readonly #deps: ReconcilerDeps;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
  }

  async reconcile(key: string, mode: ReconcileMode): Promise<HandlerResult> {
    const written: Written[] = [];
    try {
      return await this.#reconcile(key, mode, written);
    } finally {
      const deps = this.#deps;
      for (const w of written)
        deps.expectations.expect(
          w.cacheKey,
          w.previousResourceVersion,
          w.resourceVersion,
          deps.observedVersion(w.cacheKey),
        );
    }
  }

  async #reconcile(key: string, mode: ReconcileMode, written: Written[]): Promise<HandlerResult> {
    const started = Date.now();
    const [id, namespaceName] = splitKey(key);
    const found = this.#deps.lookup(id, namespaceName);
    if (!found) return { kind: "done" };
    const { state } = found;
    // Keys enqueued while caches still list are enqueued again once they have synced.
    if (found.listProblem !== undefined) {
      if (!mode.once) return { kind: "done" };
      this.#record(
        id,
        state,
        "error",
        `Secrets named ${state.mapping.secretName} could not be listed: ${found.listProblem}`,
        started,
      );
      return { kind: "terminal", error: new Error(found.listProblem) };
    }
    // Our last write is not in the cache yet: planning now would repeat it. The watch event
    // re-enqueues the key; the delay is a safety net should that event never come.
    if (this.#waitingForCache(state)) return { kind: "requeue-after", ms: mode.once ? 200 : 5_000 };

    const plan = planKey(state);
    const log = this.#deps.log.child({ mapping: state.mapping.name, namespace: namespaceName });
    if (plan.outcome === "conflict") this.#reportConflict(id, state, plan.reason, log);
    if (plan.actions.length === 0) {
      this.#record(id, state, plan.outcome, plan.reason, started);
      if (!state.mapping.active) this.#deps.cleanupDone();
      if (plan.outcome === "waiting" && state.secret?.deleting) return { kind: "requeue-after", ms: 1000 };
      return { kind: "done" };
    }
    try {
      const { writer, observer, instance } = this.#deps;
      const target = {
        mappingName: state.mapping.name,
        namespace: namespaceName,
        secretName: state.mapping.secretName,
        instance,
      };
      await applyActions(
        { writer, beforeWrite: () => this.#deps.beforeWrite(), observer },
        target,
        plan.actions,
        state.credential,
        state.secret,
        written,
      );
      log.info({ actions: plan.reason }, "reconciled");
      this.#record(id, state, plan.outcome === "changes" ? "in-sync" : plan.outcome, plan.reason, started);
      return { kind: "done" };
    } catch (err) {
      return this.#failed(id, state, plan.reason, err, started, log);
    }
  }

  /** Whether a write of ours to the key's copy or ServiceAccounts has not shown up in the cache. */
  #waitingForCache(state: KeyState): boolean {
    const { expectations } = this.#deps;
    const ns = state.namespaceName;
    if (expectations.pending(secretCacheKey(ns, state.mapping.secretName), state.secret?.resourceVersion ?? ""))
      return true;
    return state.serviceAccounts.some((sa) =>
      expectations.pending(serviceAccountCacheKey(ns, sa.name), sa.resourceVersion),
    );
  }

  #record(id: string, state: KeyState, outcome: Outcome | "error", reason: string, started: number): void {
    const key = keyOf(id, state.namespaceName);
    const { statuses } = this.#deps;
    // Only keys of namespaces that exist are kept: the map stays bounded by the cluster.
    if (state.namespace)
      statuses.set(key, {
        mapping: state.mapping.name,
        namespace: state.namespaceName,
        secretName: state.mapping.secretName,
        outcome,
        reason,
        at: new Date(),
      });
    else statuses.delete(key);
    if (outcome !== "error") this.#deps.settled(key);
    this.#deps.observer?.onReconcile?.(state.mapping.name, outcome, Date.now() - started);
  }

  /** Records a conflict once per change of its reason, so a lasting conflict writes no Events. */
  #reportConflict(id: string, state: KeyState, reason: string, log: Logger): void {
    const previous = this.#deps.statuses.get(keyOf(id, state.namespaceName));
    if (previous?.outcome === "conflict" && previous.reason === reason) return;
    this.#deps.observer?.onConflict?.(state.mapping.name, state.namespaceName);
    log.warn({ reason }, "conflict; not writing");
    this.#deps.events?.record(
      state.secret
        ? { kind: "Secret", namespace: state.namespaceName, name: state.mapping.secretName, uid: state.secret.uid }
        : { kind: "Namespace", namespace: state.namespaceName, name: state.namespaceName, uid: state.namespace?.uid },
      "Warning",
      "Conflict",
      reason,
    );
  }

  #failed(id: string, state: KeyState, planned: string, err: unknown, started: number, log: Logger): HandlerResult {
    if (err instanceof WriteRefusedError) {
      log.info({ reason: err.message }, "write not sent");
      return { kind: "terminal", error: err };
    }
    const c = classifyWriteError(err);
    const namespaceName = state.namespaceName;
    const previous = this.#deps.statuses.get(keyOf(id, namespaceName));
    this.#record(id, state, "error", c.message, started);
    if (c.kind !== "terminal") {
      log.warn({ error: c.message, status: c.status, kind: c.kind }, "reconcile failed; will retry");
      return { kind: "retry", error: new Error(c.message), retryAfterMs: c.retryAfterMs };
    }
    log.error({ error: c.message, status: c.status }, "reconcile failed; not retrying until something changes");
    // One Event per failure, not one per resync while it lasts.
    if (previous?.outcome !== "error" || previous.reason !== c.message) {
      const target = {
        kind: "Namespace" as const,
        namespace: namespaceName,
        name: namespaceName,
        uid: state.namespace?.uid,
      };
      this.#deps.events?.record(target, "Warning", "Failed", `${planned}: ${c.message}`);
    }
    return { kind: "terminal", error: new Error(c.message) };
  }
}

/** A JSON patch built from a stale cache is re-read and tried again, like a 409. */
function classifyWriteError(err: unknown): ClassifiedError {
  if (err instanceof StalePatchError)
    return { kind: "conflict", status: 422, message: err.message, retryAfterMs: undefined };
  return classifyApiError(err);
}

/** A key's status as planning it now would leave it, with the plan; for `plan`. */
export type PlannedKey = KeyStatus & { plan: Plan };

/** Plans a key without writing; a key whose copies have not listed is reported, not planned. */
export function planOnly(found: KeyLookup): PlannedKey {
  const { namespaceName: namespace, mapping } = found.state;
  const { name, secretName } = mapping;
  const at = new Date();
  if (found.listProblem !== undefined) {
    const reason = `Secrets named ${secretName} could not be listed: ${found.listProblem}`;
    return {
      mapping: name,
      namespace,
      secretName,
      outcome: "error",
      reason,
      at,
      plan: { outcome: "waiting", actions: [], reason },
    };
  }
  const plan = planKey(found.state);
  return { mapping: name, namespace, secretName, outcome: plan.outcome, reason: plan.reason, at, plan };
}
