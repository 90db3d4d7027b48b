import {
  AdmissionregistrationV1Api,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { classifyApiError, type Logger, type MutatingWebhookConfiguration } from "@imagepullsecret-patcher/core";

/** JSON with sorted keys and without undefined, so the server's echo of what we sent compares equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

/** The fields we set: the server adds defaults only to fields we leave out, and we leave none out. */
function ours(configuration: V1MutatingWebhookConfiguration | MutatingWebhookConfiguration): string {
  const webhooks = (configuration.webhooks ?? []).map((w) => ({
    name: w.name,
    clientConfig: w.clientConfig,
    admissionReviewVersions: w.admissionReviewVersions,
    sideEffects: w.sideEffects,
    failurePolicy: w.failurePolicy,
    matchPolicy: w.matchPolicy,
    reinvocationPolicy: w.reinvocationPolicy,
    timeoutSeconds: w.timeoutSeconds,
    rules: w.rules,
    namespaceSelector: w.namespaceSelector,
    objectSelector: w.objectSelector,
  }));
  return canonical(webhooks);
}

/**
 * Keeps the patcher's own MutatingWebhookConfiguration as the config says: created when missing
 * (the chart usually creates it, so that RBAC can name it), replaced only when it differs. Every
 * replica may call this; they compute the same object from the same config, so they do not fight.
 */
export class WebhookConfigurationWriter {
  readonly #api: AdmissionregistrationV1Api;
  readonly #logger: Logger;

  constructor(kubeConfig: KubeConfig, logger: Logger) {
    this.#api = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    this.#logger = logger;
  }

  /** Returns whether it wrote. */
  async ensure(desired: MutatingWebhookConfiguration): Promise<boolean> {
    const name = desired.metadata.name;
    const body = desired as unknown as V1MutatingWebhookConfiguration;
    for (let attempt = 0; ; attempt++) {
      const existing = await this.#read(name);
      try {
        if (!existing) {
          await this.#api.createMutatingWebhookConfiguration({ body });
          this.#logger.info(
            { configuration: name, webhooks: desired.webhooks.length },
            "created the webhook configuration",
          );
          return true;
        }
        // Labels are merged, not replaced: the chart's own labels stay.
        const labels = { ...existing.metadata?.labels, ...desired.metadata.labels };
        const labelsHeld = canonical(labels) === canonical(existing.metadata?.labels ?? {});
        if (labelsHeld && ours(existing) === ours(desired)) return false;
        const replacement = { ...body, metadata: { ...existing.metadata, labels } };
        await this.#api.replaceMutatingWebhookConfiguration({ name, body: replacement });
        this.#logger.info(
          { configuration: name, webhooks: desired.webhooks.length },
          "updated the webhook configuration",
        );
        return true;
      } catch (err) {
        const { kind, message } = classifyApiError(err);
        // Another replica wrote first: compare again with what it wrote.
        if ((kind === "conflict" || (kind === "not-found" && existing)) && attempt < 3) continue;
        throw new Error(`MutatingWebhookConfiguration ${name}: ${message}`, { cause: err });
      }
    }
  }

  async #read(name: string): Promise<V1MutatingWebhookConfiguration | undefined> {
    try {
      return await this.#api.readMutatingWebhookConfiguration({ name });
    } catch (err) {
      const { kind, message } = classifyApiError(err);
      if (kind === "not-found") return undefined;
      throw new Error(`MutatingWebhookConfiguration ${name}: ${message}`, { cause: err });
    }
  }
}
