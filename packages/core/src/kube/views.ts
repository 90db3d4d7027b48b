import type { V1Namespace, V1OwnerReference, V1Secret, V1ServiceAccount } from "@kubernetes/client-node";
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

export function namespaceView(ns: V1Namespace): CachedNamespace {
  return {
    name: ns.metadata?.name ?? "",
    uid: ns.metadata?.uid ?? "",
    resourceVersion: ns.metadata?.resourceVersion ?? "",
    labels: ns.metadata?.labels ?? {},
    annotations: ns.metadata?.annotations ?? {},
    phase: ns.metadata?.deletionTimestamp ? "Terminating" : (ns.status?.phase ?? "Active"),
  };
}

export function secretView(secret: V1Secret): CachedSecret {
  const data = secret.data ?? {};
  const value = data[DOCKER_CONFIG_JSON_KEY];
  return {
    namespace: secret.metadata?.namespace ?? "",
    name: secret.metadata?.name ?? "",
    uid: secret.metadata?.uid ?? "",
    resourceVersion: secret.metadata?.resourceVersion ?? "",
    type: secret.type ?? "Opaque",
    labels: secret.metadata?.labels ?? {},
    annotations: secret.metadata?.annotations ?? {},
    dataHash: value === undefined ? undefined : sha256(Buffer.from(value, "base64")),
    dataKeys: Object.keys(data).sort(),
    deleting: !!secret.metadata?.deletionTimestamp,
    finalizers: secret.metadata?.finalizers?.length ? secret.metadata.finalizers : undefined,
    ownerReferences: secret.metadata?.ownerReferences?.length ? secret.metadata.ownerReferences : undefined,
  };
}

export function serviceAccountView(sa: V1ServiceAccount): CachedServiceAccount {
  return {
    namespace: sa.metadata?.namespace ?? "",
    name: sa.metadata?.name ?? "",
    uid: sa.metadata?.uid ?? "",
    resourceVersion: sa.metadata?.resourceVersion ?? "",
    labels: sa.metadata?.labels ?? {},
    annotations: sa.metadata?.annotations ?? {},
    imagePullSecrets: (sa.imagePullSecrets ?? []).map((ref) => ref.name ?? ""),
  };
}

export function namespacedKey(obj: { namespace: string; name: string }): string {
  return `${obj.namespace}/${obj.name}`;
}
