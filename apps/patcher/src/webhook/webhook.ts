import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { KubeConfig } from "@kubernetes/client-node";
import {
  buildMutatingWebhookConfiguration,
  sleep,
  type Logger,
  type Mapping,
  type WebhookClientConfigOption,
} from "@imagepullsecret-patcher/core";
import { durationMs, type PatcherConfig } from "../config/schema.js";
import { startAdmissionServer, type AdmissionServer, type ServingCertificate } from "./admission-server.js";
import { WebhookConfigurationWriter } from "./configuration-writer.js";
import { NamespaceLookup } from "./namespace-lookup.js";
import { PodAdmission, type ReviewResult } from "./pod-admission.js";
import { SelfManagedTls } from "./self-managed-tls.js";

/**
 * The longest wait between looks at the certificate and the configuration: it picks up another replica's renewal.
 * A renewal due sooner is looked at when due (the store's nextCheckAt).
 */
const CHECK_INTERVAL_MS = 60_000;

export type WebhookConfig = PatcherConfig["webhook"];

export interface WebhookOptions {
  config: WebhookConfig;
  /** The patcher's own namespace: where the TLS Secret lives, and never reviewed. */
  namespace: string;
  kubeConfig: KubeConfig;
  logger: Logger;
  /** The mappings of the config applied last; those with `podAdmission` are served. */
  mappings: () => readonly Mapping[];
  onPatched?: (namespace: string, mapping: string) => void;
  onReviewed?: (mapping: string, result: ReviewResult) => void;
  /** Overrides webhook.address (tests). */
  address?: string | undefined;
}

/** Where the API server calls, and the names the serving certificate must carry for it. */
function endpoint(
  config: WebhookConfig,
  namespace: string,
): {
  clientConfig: WebhookClientConfigOption;
  dnsNames: string[];
  ipAddresses: string[];
} {
  const dnsNames = [...config.tls.dnsNames];
  const ipAddresses = [...config.tls.ipAddresses];
  if (config.url) {
    const host = new URL(config.url).hostname.replace(/^\[|\]$/g, "");
    (isIP(host) ? ipAddresses : dnsNames).push(host);
    return { clientConfig: { url: config.url }, dnsNames, ipAddresses };
  }
  const service = config.service as NonNullable<WebhookConfig["service"]>;
  const ns = service.namespace ?? namespace;
  dnsNames.push(
    service.name,
    `${service.name}.${ns}`,
    `${service.name}.${ns}.svc`,
    `${service.name}.${ns}.svc.cluster.local`,
  );
  return {
    clientConfig: { service: { name: service.name, namespace: ns, port: service.port } },
    dnsNames,
    ipAddresses,
  };
}

/** Certificate and CA of one moment, from the self-managed Secret or from files. */
interface TlsState {
  certificate: ServingCertificate;
  /** PEM; undefined when something else injects the caBundle. */
  caBundlePem: string | undefined;
  nextCheckAt: Date;
}

async function loadTls(config: WebhookConfig, store: SelfManagedTls | undefined): Promise<TlsState> {
  const soon = new Date(Date.now() + CHECK_INTERVAL_MS);
  if (store) {
    const bundle = await store.current();
    const next = await store.nextCheckAt(bundle);
    return {
      certificate: { certPem: bundle.certPem, keyPem: bundle.keyPem },
      caBundlePem: await store.caBundle(bundle),
      nextCheckAt: next < soon ? next : soon,
    };
  }
  const read = (path: string, what: string): string => {
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      throw new Error(`webhook.tls.${what} ${path}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  };
  const { certFile, keyFile, caFile } = config.tls;
  return {
    certificate: { certPem: read(certFile ?? "", "certFile"), keyPem: read(keyFile ?? "", "keyFile") },
    caBundlePem: caFile ? read(caFile, "caFile") : undefined,
    nextCheckAt: soon,
  };
}

/**
 * Serves the Pod admission webhook on this replica (leader or not) and keeps its certificate and
 * its MutatingWebhookConfiguration current, until `signal` aborts.
 */
export async function runWebhook(
  options: WebhookOptions,
  signal: AbortSignal,
  onListening?: (port: number) => void,
): Promise<void> {
  const { config, namespace, kubeConfig, logger } = options;
  const { clientConfig, dnsNames, ipAddresses } = endpoint(config, namespace);
  const store =
    config.tls.mode === "self-managed"
      ? new SelfManagedTls({
          kubeConfig,
          namespace: config.tls.secretNamespace ?? namespace,
          secretName: config.tls.secretName,
          dnsNames,
          ipAddresses,
          lifetimes: {
            servingValidityMs: durationMs(config.tls.servingValidity),
            caValidityMs: durationMs(config.tls.caValidity),
            caPropagationMs: durationMs(config.tls.caPropagation),
          },
          logger,
        })
      : undefined;
  const admitting = (): Mapping[] => options.mappings().filter((m) => m.podAdmission);
  const lookup = new NamespaceLookup(kubeConfig);
  const admission = new PodAdmission({
    mappings: admitting,
    lookupNamespace: (name) => lookup.get(name),
    onPatched: options.onPatched,
    onReviewed: options.onReviewed,
    logger,
  });
  const writer = new WebhookConfigurationWriter(kubeConfig, logger);
  const ensureConfiguration = async (caBundlePem: string | undefined): Promise<void> => {
    if (!config.manageConfiguration) return;
    const desired = buildMutatingWebhookConfiguration({
      name: config.configurationName,
      mappings: admitting().map((m) => ({ mappingName: m.name, namespaceSelector: m.selector.namespaceSelector?.() })),
      clientConfig,
      caBundle: caBundlePem === undefined ? undefined : Buffer.from(caBundlePem, "utf8").toString("base64"),
      timeoutSeconds: config.timeoutSeconds,
      patcherNamespace: namespace,
      labels: { "app.kubernetes.io/managed-by": "imagepullsecret-patcher" },
    });
    await writer.ensure(desired);
  };

  let tls = await loadTls(config, store);
  const server: AdmissionServer = await startAdmissionServer(
    options.address ?? config.address,
    tls.certificate,
    (label, body) => admission.review(label, body),
    logger,
  );
  onListening?.(server.port);
  try {
    await ensureConfiguration(tls.caBundlePem);
    while (!signal.aborted) {
      await sleep(Math.max(1_000, tls.nextCheckAt.getTime() - Date.now()), signal);
      if (signal.aborted) break;
      try {
        const next = await loadTls(config, store);
        if (
          next.certificate.certPem !== tls.certificate.certPem ||
          next.certificate.keyPem !== tls.certificate.keyPem
        ) {
          server.setCertificate(next.certificate);
          logger.info({}, "webhook serving certificate reloaded");
        }
        tls = next;
        await ensureConfiguration(tls.caBundlePem);
      } catch (err) {
        // The current certificate keeps serving; the next check tries again.
        logger.warn(
          { error: err instanceof Error ? err.message : String(err) },
          "webhook TLS or configuration check failed",
        );
        tls = { ...tls, nextCheckAt: new Date(Date.now() + CHECK_INTERVAL_MS) };
      }
    }
  } finally {
    await server.close();
  }
}
