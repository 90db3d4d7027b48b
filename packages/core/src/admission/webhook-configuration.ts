// The `admissionregistration.k8s.io/v1` MutatingWebhookConfiguration of the Pod webhook, as plain
// JSON: one webhook entry per mapping with pod admission, each narrowed to the mapping's namespaces.
// Pure: whoever applies it to the cluster does so elsewhere.
import type { LabelSelector, LabelSelectorRequirement } from "../plugins/contracts.js";
import { NAMESPACE_NAME_LABEL } from "../selectors/namespace-selector.js";
import { LabelSelectorError, requirementsFromStructured } from "../selectors/label-selector.js";
import { WebhookConfigurationError, webhookLabelOf, webhookPathOf, WEBHOOK_NAME_SUFFIX } from "./webhook-names.js";
import {
  checkCaBundle,
  checkLabels,
  checkNamespaceName,
  checkObjectName,
  checkServicePort,
  urlWithPath,
} from "./webhook-options.js";

/** Pods labelled with this key set to `"true"` are never patched (their owner opted out). */
export const SKIP_LABEL = "imagepullsecret-patcher.io/skip";
/** Namespaces the webhook never sees unless told otherwise: the control plane's own. */
export const SYSTEM_NAMESPACES: readonly string[] = ["kube-system", "kube-public", "kube-node-lease"];
/**
 * Default wait of the API server for an answer. Every Pod creation in a selected namespace waits for
 * the webhook; we recommend 2 seconds or less, so a slow webhook delays creations only a little.
 */
export const DEFAULT_WEBHOOK_TIMEOUT_SECONDS = 2;
const MIN_TIMEOUT_SECONDS = 1;
const MAX_TIMEOUT_SECONDS = 30;

/** Where the API server sends reviews: a URL, or an in-cluster Service. */
export type WebhookClientConfigOption =
  | { readonly url: string }
  | {
      readonly service: {
        readonly namespace: string;
        readonly name: string;
        /** Default 443. */
        readonly port?: number | undefined;
        /** Base path the webhook's own path is appended to; default none. */
        readonly path?: string | undefined;
      };
    };

/** One mapping with pod admission: its name and the namespaceSelector its target selector gives. */
export interface WebhookMapping {
  readonly mappingName: string;
  /** Undefined when the selector cannot say (a third-party one): the webhook then sees every namespace. */
  readonly namespaceSelector: LabelSelector | undefined;
}

/** What {@link buildMutatingWebhookConfiguration} builds from. */
export interface WebhookConfigurationOptions {
  /** The configuration's `metadata.name`, a DNS subdomain. */
  readonly name: string;
  readonly mappings: readonly WebhookMapping[];
  /** For a URL, its path is a base the webhook's own path is appended to. */
  readonly clientConfig: WebhookClientConfigOption;
  /** Base64 of the PEM CA bundle that signs the webhook's certificate; omit when a CA injector fills it. */
  readonly caBundle?: string | undefined;
  /** Rounded and clamped to 1..30; default {@link DEFAULT_WEBHOOK_TIMEOUT_SECONDS}. We recommend ≤ 2. */
  readonly timeoutSeconds?: number | undefined;
  /** Namespaces never reviewed, whatever the mappings select; default {@link SYSTEM_NAMESPACES}. */
  readonly excludedNamespaces?: readonly string[] | undefined;
  /** The patcher's own namespace, always excluded too. */
  readonly patcherNamespace: string;
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

/** `clientConfig` of one webhook entry. */
export type WebhookClientConfig = (
  | { readonly url: string }
  | {
      readonly service: {
        readonly namespace: string;
        readonly name: string;
        readonly port: number;
        readonly path: string;
      };
    }
) & { readonly caBundle?: string };

/** One entry of `webhooks`. */
export interface MutatingWebhook {
  readonly name: string;
  readonly clientConfig: WebhookClientConfig;
  readonly admissionReviewVersions: readonly ["v1"];
  readonly sideEffects: "None";
  readonly failurePolicy: "Ignore";
  readonly matchPolicy: "Equivalent";
  readonly reinvocationPolicy: "IfNeeded";
  readonly timeoutSeconds: number;
  readonly rules: readonly {
    readonly operations: readonly ["CREATE"];
    readonly apiGroups: readonly [""];
    readonly apiVersions: readonly ["v1"];
    readonly resources: readonly ["pods"];
    readonly scope: "Namespaced";
  }[];
  readonly namespaceSelector: LabelSelector;
  readonly objectSelector: LabelSelector;
}

/** The configuration object, ready to be applied as JSON. */
export interface MutatingWebhookConfiguration {
  readonly apiVersion: "admissionregistration.k8s.io/v1";
  readonly kind: "MutatingWebhookConfiguration";
  readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>> };
  readonly webhooks: readonly MutatingWebhook[];
}

/** Whole seconds within 1..30; a missing or non-finite value gives the default. */
export function webhookTimeoutSeconds(value: number | undefined): number {
  if (value === undefined || !Number.isFinite(value)) return DEFAULT_WEBHOOK_TIMEOUT_SECONDS;
  return Math.min(MAX_TIMEOUT_SECONDS, Math.max(MIN_TIMEOUT_SECONDS, Math.round(value)));
}

function excludedNamespaces(options: WebhookConfigurationOptions): string[] {
  checkNamespaceName(options.patcherNamespace, "patcherNamespace");
  const names = options.excludedNamespaces ?? SYSTEM_NAMESPACES;
  names.forEach((name, index) => checkNamespaceName(name, `excludedNamespaces[${index}]`));
  return [...new Set([...names, options.patcherNamespace])].sort();
}

function copyExpression(expression: LabelSelectorRequirement): LabelSelectorRequirement {
  const { key, operator, values } = expression;
  return values === undefined ? { key, operator } : { key, operator, values: [...values] };
}

/** The mapping's selector (checked as the API server would) ANDed with the namespace exclusion. */
function namespaceSelectorOf(mapping: WebhookMapping, excluded: readonly string[]): LabelSelector {
  const selector = mapping.namespaceSelector ?? {};
  try {
    requirementsFromStructured(selector, "namespaceSelector");
  } catch (error) {
    if (!(error instanceof LabelSelectorError)) throw error;
    throw new WebhookConfigurationError(`mapping ${JSON.stringify(mapping.mappingName)}`, error.message);
  }
  const exclusion: LabelSelectorRequirement = { key: NAMESPACE_NAME_LABEL, operator: "NotIn", values: excluded };
  return {
    ...(selector.matchLabels ? { matchLabels: { ...selector.matchLabels } } : {}),
    matchExpressions: [...(selector.matchExpressions ?? []).map(copyExpression), exclusion],
  };
}

function clientConfigOf(option: WebhookClientConfigOption, webhookPath: string): WebhookClientConfig {
  if ("url" in option) return { url: urlWithPath(option.url, webhookPath) };
  const { namespace, name, port, path } = option.service;
  checkNamespaceName(namespace, "clientConfig.service.namespace");
  checkObjectName(name, "clientConfig.service.name");
  const base = (path ?? "").replace(/\/+$/, "");
  if (base !== "" && !base.startsWith("/")) {
    throw new WebhookConfigurationError("clientConfig.service.path", "must start with '/'");
  }
  return { service: { namespace, name, port: checkServicePort(port ?? 443), path: `${base}${webhookPath}` } };
}

interface Shared {
  readonly excluded: string[];
  readonly timeoutSeconds: number;
  readonly options: WebhookConfigurationOptions;
}

function webhookOf(mapping: WebhookMapping, shared: Shared): MutatingWebhook {
  const { options } = shared;
  const clientConfig = clientConfigOf(options.clientConfig, webhookPathOf(mapping.mappingName));
  return {
    name: `${webhookLabelOf(mapping.mappingName)}.${WEBHOOK_NAME_SUFFIX}`,
    clientConfig: options.caBundle === undefined ? clientConfig : { ...clientConfig, caBundle: options.caBundle },
    // The only version reviewed and answered here.
    admissionReviewVersions: ["v1"],
    // The webhook only computes a patch, so dry-run requests may call it too.
    sideEffects: "None",
    // Never block Pod creation: the ServiceAccount patch still covers Pods the webhook misses.
    failurePolicy: "Ignore",
    // Also review Pods created through another API version that converts to v1 pods.
    matchPolicy: "Equivalent",
    // We only append a missing entry, so a second call is harmless, and it corrects a later webhook that rewrote imagePullSecrets.
    reinvocationPolicy: "IfNeeded",
    timeoutSeconds: shared.timeoutSeconds,
    // Pod creation only: a running Pod's imagePullSecrets cannot change, and subresources are not Pods.
    rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "Namespaced" }],
    // The mapping's namespaces (or more: the handler decides again), never the excluded ones.
    namespaceSelector: namespaceSelectorOf(mapping, shared.excluded),
    // NotIn lets unlabelled Pods through and skips only those labelled skip: "true".
    objectSelector: { matchExpressions: [{ key: SKIP_LABEL, operator: "NotIn", values: ["true"] }] },
  };
}

/** Refuses two mappings whose names make the same label: the API server wants distinct webhook names. */
function checkDistinctLabels(mappings: readonly WebhookMapping[]): void {
  const seen = new Map<string, string>();
  for (const { mappingName } of mappings) {
    const label = webhookLabelOf(mappingName);
    const earlier = seen.get(label);
    if (earlier !== undefined) {
      throw new WebhookConfigurationError(
        `mapping ${JSON.stringify(mappingName)}`,
        `its webhook name ${JSON.stringify(label)} is already taken by mapping ${JSON.stringify(earlier)}`,
      );
    }
    seen.set(label, mappingName);
  }
}

/**
 * Builds the MutatingWebhookConfiguration: one webhook per mapping, named
 * `<mapping>.pods.imagepullsecret-patcher.io` and called at `/mutate-pods/<mapping>`, for Pod
 * CREATE only, in the mapping's namespaces minus the excluded ones, for Pods not labelled
 * `imagepullsecret-patcher.io/skip: "true"`.
 *
 * @throws {WebhookConfigurationError} naming the option or the mapping that cannot be used.
 */
export function buildMutatingWebhookConfiguration(options: WebhookConfigurationOptions): MutatingWebhookConfiguration {
  checkObjectName(options.name, "name", true);
  if (options.caBundle !== undefined) checkCaBundle(options.caBundle);
  if (options.labels) checkLabels(options.labels);
  checkDistinctLabels(options.mappings);
  const shared: Shared = {
    excluded: excludedNamespaces(options),
    timeoutSeconds: webhookTimeoutSeconds(options.timeoutSeconds),
    options,
  };
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: options.name, ...(options.labels ? { labels: { ...options.labels } } : {}) },
    webhooks: options.mappings.map((mapping) => webhookOf(mapping, shared)),
  };
}
