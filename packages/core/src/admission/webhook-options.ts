// Checks of the options the webhook configuration is built from, with the API server's rules, so a
// mistake is reported by option rather than as a refused object at apply time.
import {
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  labelKeyProblem,
  labelValueProblem,
} from "../selectors/k8s-names.js";
import { WebhookConfigurationError } from "./webhook-names.js";

const PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----";

function refuse(path: string, problem: string | undefined): void {
  if (problem !== undefined) throw new WebhookConfigurationError(path, problem);
}

/** A namespace name is a DNS label. */
export function checkNamespaceName(name: string, path: string): void {
  refuse(path, dns1123LabelProblem(name));
}

/** A Service name is a DNS label; the configuration's own name a DNS subdomain. */
export function checkObjectName(name: string, path: string, subdomain = false): void {
  refuse(path, subdomain ? dns1123SubdomainProblem(name) : dns1123LabelProblem(name));
}

/** A TCP port; returned so the caller can use it as checked. */
export function checkServicePort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new WebhookConfigurationError("clientConfig.service.port", "must be a whole number from 1 to 65535");
  }
  return port;
}

/** Base64 of at least one PEM certificate. The problem never quotes the bundle. */
export function checkCaBundle(caBundle: string): void {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(caBundle) || caBundle.length % 4 !== 0) {
    throw new WebhookConfigurationError("caBundle", "must be base64 (of a PEM CA bundle)");
  }
  if (!Buffer.from(caBundle, "base64").toString("latin1").includes(PEM_CERTIFICATE)) {
    throw new WebhookConfigurationError("caBundle", `must be base64 of PEM, with a ${PEM_CERTIFICATE} block`);
  }
}

/** `metadata.labels`: valid keys and values. */
export function checkLabels(labels: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(labels)) {
    refuse(`labels[${JSON.stringify(key)}]`, labelKeyProblem(key));
    refuse(`labels[${JSON.stringify(key)}]`, labelValueProblem(value));
  }
}

/**
 * `url` with `path` appended to its own path. The API server wants `https`, and no user, query or
 * fragment in a webhook URL.
 */
export function urlWithPath(url: string, path: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WebhookConfigurationError("clientConfig.url", "is not a valid URL");
  }
  if (parsed.protocol !== "https:") throw new WebhookConfigurationError("clientConfig.url", "must use https");
  if (parsed.username || parsed.password) {
    throw new WebhookConfigurationError("clientConfig.url", "must not hold a user or password");
  }
  if (parsed.search || parsed.hash || url.includes("?") || url.includes("#")) {
    throw new WebhookConfigurationError("clientConfig.url", "must not have a query or a fragment");
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}${path}`;
}
