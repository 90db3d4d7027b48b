import type { V1Namespace, V1ObjectMeta, V1OwnerReference, V1Secret, V1ServiceAccount } from "@kubernetes/client-node";
import { sha256 } from "../credentials/docker-config.js";
import type { NamespaceView, ServiceAccountView } from "../plugins/contracts.js";

/** The Secret type and key of a registry credential. */
export const DOCKER_CONFIG_JSON_TYPE = "kubernetes.io/dockerconfigjson";
export const DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson";

/** Cached form of a Namespace; informer objects are never mutated. */
export interface CachedNamespace extends NamespaceView {
  readonly uid: string;
  readonly resourceVersion: string;
}

/**
 * Cached form of a Secret the engine watches (its copies, same-name foreign Secrets, sources).
 * Only the hash of the credential is kept, except for sources, whose bytes are needed.
 */
export interface CachedSecret {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** sha256 of the `.dockerconfigjson` value, if the key exists. */
  readonly dataHash?: string | undefined;
  /** Names of the data keys, for diffing (a copy holds exactly one). */
  readonly dataKeys: readonly string[];
  readonly deleting: boolean;
  /** Kept so an update (a PUT) of an adopted copy does not drop them; absent when empty. */
  readonly finalizers?: readonly string[] | undefined;
  readonly ownerReferences?: readonly V1OwnerReference[] | undefined;
}

export interface CachedServiceAccount extends ServiceAccountView {
  readonly uid: string;
  readonly resourceVersion: string;
  /** Names from `imagePullSecrets`, in order. */
  readonly imagePullSecrets: readonly string[];
}

/** One shared empty map for the many objects without labels or annotations (views are never mutated). */
const NONE: Record<string, string> = Object.freeze({});

/** The metadata every view keeps, with absent fields as empty values. */
function identity(meta: V1ObjectMeta | undefined): {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  const m = meta ?? {};
  return {
    namespace: m.namespace ?? "",
    name: m.name ?? "",
    uid: m.uid ?? "",
    resourceVersion: m.resourceVersion ?? "",
    labels: m.labels ?? NONE,
    annotations: m.annotations ?? NONE,
  };
}

function nonEmpty<T>(list: T[] | undefined): T[] | undefined {
  return list?.length ? list : undefined;
}

/**
 * Annotations whose values no selector or strategy needs, and which can be large: `kubectl apply`
 * keeps a copy of the whole object in one. The key is kept with an empty value, so the cached
 * view still says the object has annotations (a JSON patch adding our record must not replace
 * the map), while the cache does not hold a second copy of every applied Namespace and
 * ServiceAccount.
 */
export const BLANKED_ANNOTATIONS: ReadonlySet<string> = new Set(["kubectl.kubernetes.io/last-applied-configuration"]);

/** `annotations` with the values of {@link BLANKED_ANNOTATIONS} emptied; the same object when none is set. */
function thinAnnotations(annotations: Record<string, string>): Record<string, string> {
  let thin: Record<string, string> | undefined;
  for (const key of BLANKED_ANNOTATIONS) {
    if (!annotations[key]) continue;
    thin ??= { ...annotations };
    thin[key] = "";
  }
  return thin ?? annotations;
}

export function namespaceView(ns: V1Namespace): CachedNamespace {
  const { name, uid, resourceVersion, labels, annotations } = identity(ns.metadata);
  const phase = ns.metadata?.deletionTimestamp ? "Terminating" : (ns.status?.phase ?? "Active");
  return { name, uid, resourceVersion, labels, annotations: thinAnnotations(annotations), phase };
}

export function secretView(secret: V1Secret): CachedSecret {
  const data = secret.data ?? {};
  const value = data[DOCKER_CONFIG_JSON_KEY];
  const meta = secret.metadata ?? {};
  return {
    ...identity(meta),
    type: secret.type ?? "Opaque",
    dataHash: value === undefined ? undefined : sha256(Buffer.from(value, "base64")),
    dataKeys: Object.keys(data).sort(),
    deleting: !!meta.deletionTimestamp,
    finalizers: nonEmpty(meta.finalizers),
    ownerReferences: nonEmpty(meta.ownerReferences),
  };
}

export function serviceAccountView(sa: V1ServiceAccount): CachedServiceAccount {
  const meta = identity(sa.metadata);
  return {
    ...meta,
    annotations: thinAnnotations(meta.annotations),
    imagePullSecrets: (sa.imagePullSecrets ?? []).map((ref) => ref.name ?? ""),
  };
}

export function namespacedKey(obj: { namespace: string; name: string }): string {
  return `${obj.namespace}/${obj.name}`;
}
