import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Secret } from "@kubernetes/client-node";
import type { SourceValue } from "../plugins/contracts.js";
import { DOCKER_CONFIG_JSON_KEY, DOCKER_CONFIG_JSON_TYPE, type CachedSecret, type CachedServiceAccount } from "../kube/views.js";
import {
  ADDED_ANNOTATION,
  ADOPT_ANNOTATION,
  INSTANCE_LABEL,
  LEGACY_MANAGED_BY_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  MAPPING_LABEL,
  SOURCE_HASH_ANNOTATION,
  addedByUs,
  formatAdded,
} from "./ownership.js";
import type { Action } from "./plan.js";

/** Counts writes by kind; the app turns these into metrics. */
export interface WriteObserver {
  onWrite?(kind: "secret-create" | "secret-update" | "secret-delete" | "serviceaccount-patch"): void;
}

export interface ApplyTarget {
  readonly mappingName: string;
  readonly namespace: string;
  readonly secretName: string;
  readonly instance: string;
}

export interface ApplyContext {
  readonly core: CoreV1Api;
  readonly fieldManager: string;
  /** Awaited before every write: the client-side rate limit. */
  readonly beforeWrite: () => Promise<void>;
  readonly observer?: WriteObserver | undefined;
}

const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);

/** JSON Pointer escaping for annotation keys that contain `/`. */
function pointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

function secretBody(target: ApplyTarget, credential: SourceValue, existing: CachedSecret | undefined, resourceVersion?: string): V1Secret {
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

/** JSON patch that appends our entry and records it, guarded by the cached resourceVersion. */
export function addReferencePatch(sa: CachedServiceAccount, secretName: string): object[] {
  const ops: object[] = [{ op: "replace", path: "/metadata/resourceVersion", value: sa.resourceVersion }];
  ops.push(
    sa.imagePullSecrets.length === 0
      ? { op: "add", path: "/imagePullSecrets", value: [{ name: secretName }] }
      : { op: "add", path: "/imagePullSecrets/-", value: { name: secretName } },
  );
  const added = formatAdded([...addedByUs(sa), secretName]);
  ops.push(
    Object.keys(sa.annotations).length === 0
      ? { op: "add", path: "/metadata/annotations", value: { [ADDED_ANNOTATION]: added } }
      : { op: "add", path: `/metadata/annotations/${pointer(ADDED_ANNOTATION)}`, value: added },
  );
  return ops;
}

/** JSON patch that removes only our entry (checked by name) and forgets it. */
export function removeReferencePatch(sa: CachedServiceAccount, secretName: string): object[] {
  const ops: object[] = [{ op: "replace", path: "/metadata/resourceVersion", value: sa.resourceVersion }];
  const index = sa.imagePullSecrets.indexOf(secretName);
  if (index >= 0) {
    ops.push({ op: "test", path: `/imagePullSecrets/${index}/name`, value: secretName });
    ops.push({ op: "remove", path: `/imagePullSecrets/${index}` });
  }
  const remaining = addedByUs(sa).filter((n) => n !== secretName);
  const path = `/metadata/annotations/${pointer(ADDED_ANNOTATION)}`;
  ops.push(remaining.length ? { op: "replace", path, value: formatAdded(remaining) } : { op: "remove", path });
  return ops;
}

/** An object the apply step wrote, and the resourceVersion the cache must reach ("" = deleted). */
export interface Written {
  readonly cacheKey: string;
  readonly resourceVersion: string;
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
  const { core, fieldManager } = ctx;
  const secretKey = `secret/${target.namespace}/${target.secretName}`;
  const rv = (obj: { metadata?: { resourceVersion?: string } }): string => obj.metadata?.resourceVersion ?? "";
  const ns = target.namespace;
  const needCredential = (): SourceValue => {
    if (!credential) throw new Error("internal: a secret write was planned without a credential");
    return credential;
  };
  for (const action of actions) {
    await ctx.beforeWrite();
    switch (action.type) {
      case "create-secret":
        written.push({ cacheKey: secretKey, resourceVersion: rv(await core.createNamespacedSecret({ namespace: ns, fieldManager, body: secretBody(target, needCredential(), undefined) })) });
        ctx.observer?.onWrite?.("secret-create");
        break;
      case "update-secret":
        written.push({
          cacheKey: secretKey,
          resourceVersion: rv(
            await core.replaceNamespacedSecret({
              name: target.secretName,
              namespace: ns,
              fieldManager,
              body: secretBody(target, needCredential(), existing, action.resourceVersion),
            }),
          ),
        });
        ctx.observer?.onWrite?.("secret-update");
        break;
      case "recreate-secret":
        // The type of a Secret is immutable: the only way to fix it is delete (guarded by uid) + create.
        await core.deleteNamespacedSecret({ name: target.secretName, namespace: ns, body: { preconditions: { uid: action.uid } } });
        ctx.observer?.onWrite?.("secret-delete");
        written.push({ cacheKey: secretKey, resourceVersion: "" });
        await ctx.beforeWrite();
        written.push({ cacheKey: secretKey, resourceVersion: rv(await core.createNamespacedSecret({ namespace: ns, fieldManager, body: secretBody(target, needCredential(), existing) })) });
        ctx.observer?.onWrite?.("secret-create");
        break;
      case "delete-secret":
        await core.deleteNamespacedSecret({
          name: target.secretName,
          namespace: ns,
          body: { preconditions: { uid: action.uid, resourceVersion: action.resourceVersion } },
        });
        written.push({ cacheKey: secretKey, resourceVersion: "" });
        ctx.observer?.onWrite?.("secret-delete");
        break;
      case "add-reference":
      case "remove-reference": {
        const sa = action.serviceAccount;
        const body = action.type === "add-reference" ? addReferencePatch(sa, target.secretName) : removeReferencePatch(sa, target.secretName);
        const patched = await core.patchNamespacedServiceAccount({ name: sa.name, namespace: ns, fieldManager, body }, JSON_PATCH);
        written.push({ cacheKey: `sa/${ns}/${sa.name}`, resourceVersion: rv(patched) });
        ctx.observer?.onWrite?.("serviceaccount-patch");
        break;
      }
    }
  }
  return written;
}
