import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { classifyApiError, type Logger } from "@imagepullsecret-patcher/core";
import type { WebhookTlsBundle } from "@imagepullsecret-patcher/core/admission-tls";

/** webhook.tls's lifetimes in milliseconds; core's defaults (90 days, a year, 10 minutes) where left out. */
export interface SelfManagedTlsLifetimes {
  servingValidityMs?: number;
  caValidityMs?: number;
  caPropagationMs?: number;
}

export interface SelfManagedTlsOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  secretName: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  lifetimes?: SelfManagedTlsLifetimes;
  logger: Logger;
}

const LABELS = {
  "app.kubernetes.io/managed-by": "imagepullsecret-patcher",
  "imagepullsecret-patcher.io/role": "webhook-tls",
};

/**
 * The webhook's CA and serving certificate, kept in one Secret that every replica reads. Any replica
 * may create or renew it: writes carry the resourceVersion they were planned from, so when two race,
 * one wins and the other adopts what the winner wrote. No leader is needed to serve admission.
 */
export class SelfManagedTls {
  readonly #options: SelfManagedTlsOptions;
  readonly #api: CoreV1Api;

  constructor(options: SelfManagedTlsOptions) {
    this.#options = options;
    this.#api = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  get where(): string {
    return `Secret ${this.#options.namespace}/${this.#options.secretName}`;
  }

  /** The bundle as it should be now: read, renewed when due (and stored), or created. */
  async current(now = new Date()): Promise<WebhookTlsBundle> {
    const tls = await import("@imagepullsecret-patcher/core/admission-tls");
    for (let attempt = 0; ; attempt++) {
      const secret = await this.#read();
      const stored = this.#parse(secret, tls.parseWebhookTlsSecretData);
      const renewal = await tls.renewWebhookTls(stored, {
        dnsNames: this.#options.dnsNames,
        ipAddresses: this.#options.ipAddresses,
        ...this.#options.lifetimes,
        now,
      });
      if (renewal.action === "keep") return renewal.bundle;
      try {
        await this.#write(secret, tls.webhookTlsSecretData(renewal.bundle));
        this.#options.logger.info(
          { secret: this.where, action: renewal.action, reason: renewal.reason },
          "webhook TLS renewed",
        );
        return renewal.bundle;
      } catch (err) {
        const { kind, message } = classifyApiError(err);
        // Another replica wrote first: use what it wrote.
        if ((kind === "conflict" || kind === "not-found") && attempt < 3) continue;
        throw new Error(`${this.where}: ${message}`, { cause: err });
      }
    }
  }

  /** When to look again, at the latest: the next renewal, or sooner to pick up another replica's. */
  async nextCheckAt(bundle: WebhookTlsBundle, now = new Date()): Promise<Date> {
    const tls = await import("@imagepullsecret-patcher/core/admission-tls");
    return tls.nextCheckAt(bundle, now, { caPropagationMs: this.#options.lifetimes?.caPropagationMs });
  }

  /** The PEM bundle API servers must trust: the CA, and the previous one while it is valid. */
  async caBundle(bundle: WebhookTlsBundle, now = new Date()): Promise<string> {
    const tls = await import("@imagepullsecret-patcher/core/admission-tls");
    return tls.webhookCaBundle(bundle, now);
  }

  #parse(
    secret: V1Secret | undefined,
    parse: (data: Record<string, string | undefined> | undefined) => WebhookTlsBundle,
  ): WebhookTlsBundle | undefined {
    if (!secret) return undefined;
    try {
      return parse(secret.data);
    } catch (err) {
      // A Secret edited by hand into something unusable is replaced; the error names the key only.
      this.#options.logger.warn(
        { secret: this.where, problem: err instanceof Error ? err.message : String(err) },
        "webhook TLS Secret unusable; issuing a new CA and certificate",
      );
      return undefined;
    }
  }

  async #read(): Promise<V1Secret | undefined> {
    try {
      return await this.#api.readNamespacedSecret({
        namespace: this.#options.namespace,
        name: this.#options.secretName,
      });
    } catch (err) {
      const { kind, message } = classifyApiError(err);
      if (kind === "not-found") return undefined;
      throw new Error(`${this.where}: ${message}`, { cause: err });
    }
  }

  async #write(existing: V1Secret | undefined, data: Record<string, string>): Promise<void> {
    const { namespace, secretName: name } = this.#options;
    if (!existing) {
      await this.#api.createNamespacedSecret({
        namespace,
        body: { metadata: { name, namespace, labels: LABELS }, type: "Opaque", data },
      });
      return;
    }
    const metadata = { ...existing.metadata, labels: { ...existing.metadata?.labels, ...LABELS } };
    await this.#api.replaceNamespacedSecret({ namespace, name, body: { ...existing, metadata, data } });
  }
}
