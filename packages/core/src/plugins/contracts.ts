import type { KubeConfig } from "@kubernetes/client-node";
import type { DockerConfigJson } from "../credentials/docker-config.js";
import type { Logger } from "../logging/logger.js";

// ---------------------------------------------------------------------------------------------
// Shared object views. Plugins see these small, read-only shapes, not client-node's models.
// ---------------------------------------------------------------------------------------------

/** What selectors and strategies may look at on a Namespace. */
export interface NamespaceView {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** `Active` or `Terminating`. */
  readonly phase: string;
}

/** What strategies may look at on a ServiceAccount. */
export interface ServiceAccountView {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------------------------------------
// Source providers
// ---------------------------------------------------------------------------------------------

/** A credential as a source last produced it. */
export interface SourceValue {
  readonly credential: DockerConfigJson;
  /** When the credential stops working, for short-lived tokens. */
  readonly expiresAt?: Date | undefined;
  /** When the source last produced or confirmed this value. */
  readonly fetchedAt: Date;
}

/**
 * - `pending`: no value yet (starting, or the backend has never answered).
 * - `ready`: the value is current.
 * - `degraded`: the backend fails; `value` is the last good one, kept on purpose.
 */
export type SourceState = "pending" | "ready" | "degraded";

/** A source's health: its state, its last (redacted) error, and when it last succeeded. */
export interface SourceStatus {
  readonly state: SourceState;
  /** Last error, already redacted: it names the source and the problem, never the credential. */
  readonly error?: string | undefined;
  readonly lastSuccessAt?: Date | undefined;
  readonly expiresAt?: Date | undefined;
}

/**
 * Produces a validated `.dockerconfigjson` and says when it changes.
 *
 * Rules every implementation follows (the plugin test kit checks them):
 * - `current()` returns only values that passed {@link parseDockerConfigJson}.
 * - When the backend fails after a success, `current()` keeps the last good value and `status()`
 *   turns `degraded`; a bad value never replaces a good one.
 * - `onChange` listeners fire when `current()` or `status()` changes, never for a refresh that
 *   produced identical bytes and state.
 */
export interface SourceProvider {
  /** Human-readable identity for logs and status, e.g. `secret kube-system/regcred`. No secrets. */
  readonly description: string;
  /** Begins producing values; runs until `signal` aborts. Resolves once the first attempt settled. */
  start(signal: AbortSignal): Promise<void>;
  current(): SourceValue | undefined;
  status(): SourceStatus;
  /** Registers a listener; returns a function that removes it. */
  onChange(listener: () => void): () => void;
  /**
   * Namespaced Secrets this source reads, so the engine never overwrites them with a copy and RBAC
   * can be rendered for them. Empty for sources outside the cluster.
   */
  readonly secretsRead?: readonly { namespace: string; name: string }[];
}

// ---------------------------------------------------------------------------------------------
// Target selectors and patch strategies: pure functions of the objects they look at.
// ---------------------------------------------------------------------------------------------

/** One `matchExpressions` entry of a Kubernetes label selector. */
export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  /** Non-empty for `In`/`NotIn`; absent for `Exists`/`DoesNotExist`. */
  readonly values?: readonly string[] | undefined;
}

/** A Kubernetes `metav1.LabelSelector` as plain JSON; requirements are ANDed, `{}` selects everything. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>> | undefined;
  readonly matchExpressions?: readonly LabelSelectorRequirement[] | undefined;
}

/** Decides whether a namespace belongs to a mapping. Pure: no I/O, no clock. */
export interface TargetSelector {
  readonly description: string;
  matches(namespace: NamespaceView): boolean;
  /**
   * The narrowest Kubernetes namespaceSelector that selects every namespace this selector matches
   * (it may select more; the webhook decides again in process). Undefined when it cannot say.
   */
  namespaceSelector?(): LabelSelector | undefined;
}

/** Decides which ServiceAccounts of a selected namespace must reference the secret. Pure. */
export interface PatchStrategy {
  readonly description: string;
  selects(serviceAccount: ServiceAccountView, namespace: NamespaceView): boolean;
}

// ---------------------------------------------------------------------------------------------
// Factories and what they receive
// ---------------------------------------------------------------------------------------------

/** What a plugin factory may use. Sources that do not talk to Kubernetes ignore `kubeConfig`. */
export interface PluginContext {
  readonly logger: Logger;
  /** Present when the engine runs against a cluster. */
  readonly kubeConfig?: KubeConfig | undefined;
  /** Name of the mapping the plugin serves, for logs and errors. */
  readonly mappingName: string;
}

/** Why a plugin's config was refused; `path` is relative to the plugin's own config object. */
export class PluginConfigError extends Error {
  override readonly name = "PluginConfigError";
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(path ? `${path}: ${problem}` : problem);
  }
}

/**
 * Creates one kind of plugin from its config. `validate` must throw {@link PluginConfigError} for
 * a bad config and return the typed config otherwise; `create` receives only validated configs.
 */
export interface PluginFactory<TConfig, TPlugin> {
  /** The key users write in config, e.g. `secret`, `vault`, `label`. */
  readonly type: string;
  /** One line for `--help` and error messages. */
  readonly summary: string;
  validate(config: unknown): TConfig;
  create(config: TConfig, context: PluginContext): TPlugin;
}

/** A factory of {@link SourceProvider}s, registered by `type`. */
export type SourceFactory<TConfig = unknown> = PluginFactory<TConfig, SourceProvider>;
/** A factory of {@link TargetSelector}s, registered by `type`. */
export type SelectorFactory<TConfig = unknown> = PluginFactory<TConfig, TargetSelector>;
/** A factory of {@link PatchStrategy}s, registered by `type`. */
export type StrategyFactory<TConfig = unknown> = PluginFactory<TConfig, PatchStrategy>;

/**
 * What a third-party plugin package exports (as its default export or as `plugin`), so the
 * patcher app can load it by package name from `plugins:` in config.yaml.
 */
export interface PluginPackage {
  readonly sources?: readonly SourceFactory<unknown>[] | undefined;
  readonly selectors?: readonly SelectorFactory<unknown>[] | undefined;
  readonly strategies?: readonly StrategyFactory<unknown>[] | undefined;
}
