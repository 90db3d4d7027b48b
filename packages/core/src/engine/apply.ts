import {
  ApiException,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Api,
  type V1Secret,
  type V1ServiceAccount,
} from "@kubernetes/client-node";
import type { SourceValue } from "../plugins/contracts.js";
import { classifyApiError } from "../kube/errors.js";
import {
  DOCKER_CONFIG_JSON_KEY,
  DOCKER_CONFIG_JSON_TYPE,
  type CachedSecret,
  type CachedServiceAccount,
} from "../kube/views.js";
import {
  ADDED_ANNOTATION,
  ADOPT_ANNOTATION,
  INSTANCE_LABEL,
  LEGACY_MANAGED_BY_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  MAPPING_LABEL,
  SOURCE_HASH_ANNOTATION,
  addedRecords,
  formatRecords,
  type AddedRecord,
} from "./ownership.js";
import { secretCacheKey, serviceAccountCacheKey } from "./expectations.js";
import type { Action, SecretAction, ServiceAccountAction } from "./plan.js";

/** Counts writes by kind; the app turns these into metrics. */
export interface WriteObserver {
  onWrite?(kind: "secret-create" | "secret-update" | "secret-delete" | "serviceaccount-patch"): void;
}

/** Who writes: the mapping (its label value), the copy's name and namespace, and the instance. */
export interface ApplyTarget {
  readonly mappingName: string;
  readonly namespace: string;
  readonly secretName: string;
  readonly instance: string;
}

/**
 * The writes the engine makes, and nothing else: a narrow port so the apply step can be tested
 * without a cluster. {@link coreV1Writer} adapts client-node's CoreV1Api to it.
 */
export interface ClusterWriter {
  createSecret(namespace: string, body: V1Secret): Promise<V1Secret>;
  replaceSecret(namespace: string, name: string, body: V1Secret): Promise<V1Secret>;
  deleteSecret(
    namespace: string,
    name: string,
    preconditions: { uid: string; resourceVersion?: string | undefined },
  ): Promise<void>;
  /** A JSON patch (RFC 6902). */
  patchServiceAccount(namespace: string, name: string, patch: object[]): Promise<V1ServiceAccount>;
}

const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);

/** {@link ClusterWriter} over client-node, with a constant field manager on every write. */
export function coreV1Writer(core: CoreV1Api, fieldManager: string): ClusterWriter {
  return {
    createSecret: (namespace, body) => core.createNamespacedSecret({ namespace, fieldManager, body }),
    replaceSecret: (namespace, name, body) => core.replaceNamespacedSecret({ name, namespace, fieldManager, body }),
    deleteSecret: async (namespace, name, preconditions) => {
      await core.deleteNamespacedSecret({ name, namespace, body: { preconditions } });
    },
    patchServiceAccount: (namespace, name, body) =>
      core.patchNamespacedServiceAccount({ name, namespace, fieldManager, body }, JSON_PATCH),
  };
}

export interface ApplyContext {
  readonly writer: ClusterWriter;
  /**
   * Awaited before every write: the client-side rate limit, and the leadership check. It throws
   * (for example {@link WriteRefusedError}) to stop the plan before the next write.
   */
  readonly beforeWrite: () => Promise<void>;
  readonly observer?: WriteObserver | undefined;
}

/** Thrown by `beforeWrite` when this process may no longer write (it lost the leader lease). */
export class WriteRefusedError extends Error {
  override readonly name = "WriteRefusedError";
}

/**
 * A JSON patch of a ServiceAccount failed its `test` op or a path was gone (422): the cached copy
 * was stale, which a re-read fixes. Retryable, unlike other 422s.
 */
export class StalePatchError extends Error {
  override readonly name = "StalePatchError";
}

/** JSON Pointer escaping for annotation keys that contain `/`. */
function pointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

function secretBody(
  target: ApplyTarget,
  credential: SourceValue,
  existing: CachedSecret | undefined,
  resourceVersion?: string,
  keepLifecycle = true,
): V1Secret {
  // Keep labels and annotations others put on our copy, but not the adopt opt-in, which has done its job.
  const annotations: Record<string, string> = { ...(existing?.annotations ?? {}) };
  delete annotations[ADOPT_ANNOTATION];
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: target.secretName,
      namespace: target.namespace,
      resourceVersion,
      // An update is a PUT: what it leaves out is dropped, so an adopted copy keeps these. A new
      // object made to replace a deleted one does not inherit them.
      finalizers: keepLifecycle && existing?.finalizers ? [...existing.finalizers] : undefined,
      ownerReferences: keepLifecycle && existing?.ownerReferences ? [...existing.ownerReferences] : undefined,
      labels: {
        ...(existing?.labels ?? {}),
        [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
        [MAPPING_LABEL]: target.mappingName,
        [INSTANCE_LABEL]: target.instance,
      },
      annotations: {
        ...annotations,
        [SOURCE_HASH_ANNOTATION]: credential.credential.hash,
        [LEGACY_MANAGED_BY_ANNOTATION]: MANAGED_BY_VALUE,
      },
    },
    type: DOCKER_CONFIG_JSON_TYPE,
    data: { [DOCKER_CONFIG_JSON_KEY]: credential.credential.bytes.toString("base64") },
  };
}

/** The op that sets the records annotation to `records`, or removes it when there are none. */
function recordsOp(sa: CachedServiceAccount, records: AddedRecord[]): object {
  const value = formatRecords(records);
  const exists = sa.annotations[ADDED_ANNOTATION] !== undefined;
  if (Object.keys(sa.annotations).length === 0)
    return { op: "add", path: "/metadata/annotations", value: { [ADDED_ANNOTATION]: value } };
  const path = `/metadata/annotations/${pointer(ADDED_ANNOTATION)}`;
  if (!value) return { op: "remove", path };
  return { op: exists ? "replace" : "add", path, value };
}

function owned(target: ApplyTarget): AddedRecord {
  return { secretName: target.secretName, instance: target.instance, mapping: target.mappingName };
}

/** JSON patch that appends our entry and records it as ours, guarded by the cached resourceVersion. */
export function addReferencePatch(sa: CachedServiceAccount, target: ApplyTarget): object[] {
  const records = addedRecords(sa).filter((r) => r.secretName !== target.secretName);
  return [
    { op: "replace", path: "/metadata/resourceVersion", value: sa.resourceVersion },
    sa.imagePullSecrets.length === 0
      ? { op: "add", path: "/imagePullSecrets", value: [{ name: target.secretName }] }
      : { op: "add", path: "/imagePullSecrets/-", value: { name: target.secretName } },
    recordsOp(sa, [...records, owned(target)]),
  ];
}

/** JSON patch that records an entry already present as ours, leaving imagePullSecrets alone. */
export function claimReferencePatch(sa: CachedServiceAccount, target: ApplyTarget): object[] {
  const records = addedRecords(sa).filter((r) => r.secretName !== target.secretName);
  return [
    { op: "replace", path: "/metadata/resourceVersion", value: sa.resourceVersion },
    recordsOp(sa, [...records, owned(target)]),
  ];
}

/** JSON patch that removes only our entry (checked by name) and its record. */
export function removeReferencePatch(sa: CachedServiceAccount, target: ApplyTarget): object[] {
  const ops: object[] = [{ op: "replace", path: "/metadata/resourceVersion", value: sa.resourceVersion }];
  const index = sa.imagePullSecrets.indexOf(target.secretName);
  if (index >= 0) {
    ops.push({ op: "test", path: `/imagePullSecrets/${index}/name`, value: target.secretName });
    ops.push({ op: "remove", path: `/imagePullSecrets/${index}` });
  }
  const before = addedRecords(sa);
  const remaining = before.filter((r) => r.secretName !== target.secretName);
  if (remaining.length !== before.length) ops.push(recordsOp(sa, remaining));
  return ops;
}

/**
 * An object the apply step wrote: the resourceVersion the write returned ("" = deleted) and the one
 * it was planned from ("" = absent). Both are opaque; the engine only compares them for equality.
 */
export interface Written {
  readonly cacheKey: string;
  readonly resourceVersion: string;
  readonly previousResourceVersion: string;
}

/**
 * A JSON patch that could not be applied (a failed `test`, a path that is gone): the API server
 * answers 422 with empty `details`, unlike a real validation error, which names the object and the
 * fields. The patch was built from the cache, so this means the object moved on under it.
 */
function isPatchApplicationFailure(err: unknown): boolean {
  if (classifyApiError(err).status !== 422 || !(err instanceof ApiException)) return false;
  try {
    const body = (typeof err.body === "string" ? JSON.parse(err.body) : err.body) as
      { details?: { name?: string; causes?: unknown[] } } | undefined;
    return !body?.details?.name && !body?.details?.causes?.length;
  } catch {
    return false;
  }
}

async function patchServiceAccount(
  ctx: ApplyContext,
  namespace: string,
  name: string,
  patch: object[],
): Promise<V1ServiceAccount> {
  try {
    return await ctx.writer.patchServiceAccount(namespace, name, patch);
  } catch (err) {
    if (isPatchApplicationFailure(err))
      throw new StalePatchError(`ServiceAccount ${namespace}/${name} changed since it was cached`, { cause: err });
    throw err;
  }
}

/**
 * Applies a plan's actions. Every write carries a precondition (resourceVersion or uid), so a stale
 * cache produces a 409 and a retry, never a lost update.
 */
export async function applyActions(
  ctx: ApplyContext,
  target: ApplyTarget,
  actions: readonly Action[],
  credential: SourceValue | undefined,
  existing: CachedSecret | undefined,
  written: Written[] = [],
): Promise<Written[]> {
  for (const action of actions) {
    await ctx.beforeWrite();
    if ("serviceAccount" in action) written.push(await applyReference(ctx, target, action));
    else await applySecret(ctx, target, action, credential, existing, written);
  }
  return written;
}

function resourceVersionOf(obj: { metadata?: { resourceVersion?: string } }): string {
  return obj.metadata?.resourceVersion ?? "";
}

async function applySecret(
  ctx: ApplyContext,
  target: ApplyTarget,
  action: SecretAction,
  credential: SourceValue | undefined,
  existing: CachedSecret | undefined,
  written: Written[],
): Promise<void> {
  const { writer } = ctx;
  const ns = target.namespace;
  const wrote = (resourceVersion: string): void => {
    written.push({
      cacheKey: secretCacheKey(ns, target.secretName),
      resourceVersion,
      previousResourceVersion: existing?.resourceVersion ?? "",
    });
  };
  const needCredential = (): SourceValue => {
    if (!credential) throw new Error("internal: a secret write was planned without a credential");
    return credential;
  };
  switch (action.type) {
    case "create-secret":
      wrote(resourceVersionOf(await writer.createSecret(ns, secretBody(target, needCredential(), undefined))));
      ctx.observer?.onWrite?.("secret-create");
      return;
    case "update-secret":
      wrote(
        resourceVersionOf(
          await writer.replaceSecret(
            ns,
            target.secretName,
            secretBody(target, needCredential(), existing, action.resourceVersion),
          ),
        ),
      );
      ctx.observer?.onWrite?.("secret-update");
      return;
    case "recreate-secret":
      // The type of a Secret is immutable: the only way to fix it is delete (guarded by uid) + create.
      await writer.deleteSecret(ns, target.secretName, { uid: action.uid });
      ctx.observer?.onWrite?.("secret-delete");
      wrote("");
      await ctx.beforeWrite();
      wrote(
        resourceVersionOf(
          await writer.createSecret(ns, secretBody(target, needCredential(), existing, undefined, false)),
        ),
      );
      ctx.observer?.onWrite?.("secret-create");
      return;
    case "delete-secret":
      await writer.deleteSecret(ns, target.secretName, { uid: action.uid, resourceVersion: action.resourceVersion });
      wrote("");
      ctx.observer?.onWrite?.("secret-delete");
      return;
  }
}

async function applyReference(ctx: ApplyContext, target: ApplyTarget, action: ServiceAccountAction): Promise<Written> {
  const sa = action.serviceAccount;
  const patch =
    action.type === "add-reference"
      ? addReferencePatch(sa, target)
      : action.type === "claim-reference"
        ? claimReferencePatch(sa, target)
        : removeReferencePatch(sa, target);
  const patched = await patchServiceAccount(ctx, target.namespace, sa.name, patch);
  ctx.observer?.onWrite?.("serviceaccount-patch");
  return {
    cacheKey: serviceAccountCacheKey(target.namespace, sa.name),
    resourceVersion: resourceVersionOf(patched),
    previousResourceVersion: sa.resourceVersion,
  };
}
