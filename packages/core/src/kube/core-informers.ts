import {
  CoreV1Api,
  type KubeConfig,
  type V1Namespace,
  type V1Secret,
  type V1ServiceAccount,
} from "@kubernetes/client-node";
import type { Logger } from "../logging/logger.js";
import type { Informer } from "./informer.js";
import { Reflector, type ReflectorObserver } from "./reflector.js";
import {
  namespaceView,
  namespacedKey,
  secretView,
  serviceAccountView,
  type CachedNamespace,
  type CachedSecret,
  type CachedServiceAccount,
} from "./views.js";

/** Makes the caches the engine reads: all namespaces, all ServiceAccounts, and Secrets by name. */
export interface CoreInformers {
  namespaces(): Informer<CachedNamespace>;
  serviceAccounts(): Informer<CachedServiceAccount>;
  /** Secrets of one name across namespaces: the copies, and any same-name Secret (for conflicts). */
  secretsNamed(name: string): Informer<CachedSecret>;
}

export interface CoreInformerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  observer?: ReflectorObserver | undefined;
  /** Watchdog: relist a watch that delivered nothing for this long. */
  inactivityTimeoutMs?: number | undefined;
}

/** {@link CoreInformers} backed by reflectors on the cluster of `kubeConfig`. */
export function coreInformers(options: CoreInformerOptions): CoreInformers {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const common = {
    kubeConfig: options.kubeConfig,
    logger: options.logger,
    observer: options.observer,
    inactivityTimeoutMs: options.inactivityTimeoutMs,
  };
  return {
    namespaces: () =>
      new Reflector<V1Namespace, CachedNamespace>({
        ...common,
        name: "namespaces",
        watchPath: "/api/v1/namespaces",
        list: (p) => core.listNamespace(p),
        transform: namespaceView,
        key: (ns) => ns.name,
      }),
    serviceAccounts: () =>
      new Reflector<V1ServiceAccount, CachedServiceAccount>({
        ...common,
        name: "serviceaccounts",
        watchPath: "/api/v1/serviceaccounts",
        list: (p) => core.listServiceAccountForAllNamespaces(p),
        transform: serviceAccountView,
        key: namespacedKey,
      }),
    // By name across namespaces, and nothing else, so RBAC can limit the patcher to these names.
    secretsNamed: (name) =>
      new Reflector<V1Secret, CachedSecret>({
        ...common,
        name: `secrets/${name}`,
        watchPath: "/api/v1/secrets",
        fieldSelector: `metadata.name=${name}`,
        list: (p) => core.listSecretForAllNamespaces(p),
        transform: secretView,
        key: namespacedKey,
      }),
  };
}
