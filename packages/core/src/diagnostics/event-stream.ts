import { Watch, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../logging/logger.js";
import { classifyApiError } from "../kube/errors.js";
import type { ListPage, ListParams } from "../kube/reflector.js";
import { backoffDelay } from "../util/backoff.js";
import { sleep } from "../util/sleep.js";

export interface ObjectStreamOptions<T> {
  /** For logs, e.g. `pull-failure-events`. */
  name: string;
  kubeConfig: KubeConfig;
  /** Watch URL path, e.g. `/api/v1/events`. */
  watchPath: string;
  fieldSelector: string;
  list(params: ListParams): Promise<ListPage<T>>;
  /** Every listed, added or modified object; must not throw. */
  onObject(obj: T): void;
  logger: Logger;
  /** A watch silent this long is replaced (client-node aborts it); default 330 s. */
  inactivityTimeoutMs?: number | undefined;
  backoffMs?: readonly [number, number] | undefined;
}

type WatchEnd = { reason: "closed" | "gone" | "error"; error?: unknown };

/**
 * Lists, then watches, a resource and hands each object to `onObject` without keeping any: unlike
 * the reflector there is no store, so memory does not grow with what the server holds. After a
 * failure or a 410 it relists, which hands the current objects over again; callers de-duplicate.
 * Runs until `signal` aborts and never throws.
 */
export async function streamObjects<T extends { metadata?: { resourceVersion?: string } | undefined }>(
  options: ObjectStreamOptions<T>,
  signal: AbortSignal,
): Promise<void> {
  const [initialMs, maxMs] = options.backoffMs ?? [500, 30_000];
  let failures = 0;
  const backOff = async (what: string, error: unknown): Promise<void> => {
    const c = error === undefined ? undefined : classifyApiError(error);
    const wait = Math.max(c?.retryAfterMs ?? 0, backoffDelay({ initialMs, maxMs }, ++failures));
    options.logger.warn({ stream: options.name, error: c?.message ?? "closed early", retryInMs: wait }, what);
    await sleep(wait, signal);
  };
  while (!signal.aborted) {
    let from: string;
    try {
      from = await listAll(options);
    } catch (err) {
      await backOff("list failed", err);
      continue;
    }
    for (;;) {
      const started = Date.now();
      const end = await watchOnce(options, from, signal, (rv) => (from = rv));
      if (signal.aborted) return;
      // The server's own timeout ends a healthy watch: resume from the last version seen.
      if (end.reason === "closed" && Date.now() - started > 1000) {
        failures = 0;
        continue;
      }
      if (end.reason !== "gone") await backOff("watch failed", end.error);
      break;
    }
  }
}

async function listAll<T extends { metadata?: { resourceVersion?: string } | undefined }>(
  o: ObjectStreamOptions<T>,
): Promise<string> {
  let cont: string | undefined;
  let resourceVersion = "";
  do {
    const page = await o.list({ limit: 500, _continue: cont, fieldSelector: o.fieldSelector });
    for (const item of page.items) o.onObject(item);
    cont = page.metadata?._continue || undefined;
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
  } while (cont);
  return resourceVersion;
}

function watchOnce<T extends { metadata?: { resourceVersion?: string } | undefined }>(
  o: ObjectStreamOptions<T>,
  resourceVersion: string,
  signal: AbortSignal,
  onResourceVersion: (rv: string) => void,
): Promise<WatchEnd> {
  const watch = new Watch(o.kubeConfig);
  // As in the reflector: client-node 2.0 would abort an idle watch after 30 s.
  (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = o.inactivityTimeoutMs ?? 330_000;
  return new Promise<WatchEnd>((resolve) => {
    let ended: WatchEnd | undefined;
    let controller: AbortController | undefined;
    const onAbort = (): void => finish({ reason: "closed" });
    const finish = (end: WatchEnd): void => {
      if (ended) return;
      ended = end;
      signal.removeEventListener("abort", onAbort);
      controller?.abort();
      resolve(end);
    };
    if (signal.aborted) return finish({ reason: "closed" });
    signal.addEventListener("abort", onAbort, { once: true });
    const query = {
      resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: 240 + Math.floor(Math.random() * 60),
      fieldSelector: o.fieldSelector,
    };
    const onEvent = (type: string, raw: T & { code?: number }): void => {
      if (type === "ERROR") {
        if (raw.code === 410) return finish({ reason: "gone" });
        return finish({
          reason: "error",
          error: Object.assign(new Error("watch error event"), { statusCode: raw.code }),
        });
      }
      const rv = raw.metadata?.resourceVersion;
      if (rv) onResourceVersion(rv);
      if (type === "ADDED" || type === "MODIFIED") o.onObject(raw);
    };
    watch
      .watch(o.watchPath, query, onEvent, (err: unknown) =>
        finish(err === null || err === undefined ? { reason: "closed" } : { reason: "error", error: err }),
      )
      .then(
        (c) => {
          controller = c;
          if (ended) c.abort();
        },
        (err: unknown) => finish({ reason: "error", error: err }),
      );
  });
}
