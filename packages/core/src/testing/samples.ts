import type { NamespaceView, ServiceAccountView } from "../plugins/contracts.js";
import { MAPPING_ANNOTATION } from "../selectors/annotation.js";
import { EXCLUDE_ANNOTATION } from "../selectors/exclusions.js";
import { OPT_OUT_ANNOTATION } from "../selectors/opt-out.js";

/** Registry host of the credentials the kit makes up. */
export const SAMPLE_REGISTRY = "registry.contract.test";
/** User name in the credentials the kit makes up. */
export const SAMPLE_USER = "contract";

/**
 * A valid `.dockerconfigjson` whose password is `secret`: what a harness serves for `serve(secret)`
 * when its backend holds `.dockerconfigjson` documents verbatim (files, Vault, Secrets).
 */
export function sampleDockerConfigJson(secret: string, registry = SAMPLE_REGISTRY, user = SAMPLE_USER): string {
  return JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${user}:${secret}`).toString("base64") } } });
}

/** Builds a NamespaceView; `phase` defaults to `Active`. */
export function namespaceView(
  name: string,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
  phase = "Active",
): NamespaceView {
  return { name, labels, annotations, phase };
}

/** Builds a ServiceAccountView. */
export function serviceAccountView(
  namespace: string,
  name: string,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
): ServiceAccountView {
  return { namespace, name, labels, annotations };
}

/**
 * A spread of namespaces: system ones, labelled, annotated, excluded, opted into mappings by
 * annotation, opted out of every mapping, terminating, odd names.
 */
export function sampleNamespaces(): NamespaceView[] {
  return [
    namespaceView("default"),
    namespaceView("kube-system", { "kubernetes.io/metadata.name": "kube-system" }),
    namespaceView("kube-public"),
    namespaceView("team-a", { team: "a", env: "prod", "kubernetes.io/metadata.name": "team-a" }),
    namespaceView("team-b", { team: "b", env: "dev" }, { "example.com/owner": "b" }),
    namespaceView("team-c", { team: "c" }, { [EXCLUDE_ANNOTATION]: "true" }),
    namespaceView("team-d", { team: "d" }, { [EXCLUDE_ANNOTATION]: "false", "example.com/pull-secrets": "true" }),
    namespaceView("leaving", { team: "a" }, {}, "Terminating"),
    namespaceView("x", { "app.kubernetes.io/name": "x", empty: "" }),
    namespaceView(`n${"0".repeat(62)}`, { "example.com/long": "v".repeat(63) }),
    namespaceView("team-e", { team: "e" }, { [MAPPING_ANNOTATION]: "contract, team-e" }),
    namespaceView("opted-out", { team: "a" }, { [OPT_OUT_ANNOTATION]: "true", [MAPPING_ANNOTATION]: "contract" }),
  ];
}

/** A spread of ServiceAccounts, with the namespace each one lives in. */
export function sampleServiceAccounts(): [ServiceAccountView, NamespaceView][] {
  const namespaces = sampleNamespaces();
  const pairs: [ServiceAccountView, NamespaceView][] = [];
  for (const ns of namespaces.slice(0, 6)) {
    pairs.push([serviceAccountView(ns.name, "default"), ns]);
    pairs.push([serviceAccountView(ns.name, "builder", { app: "ci", team: ns.labels.team ?? "none" }), ns]);
    pairs.push([serviceAccountView(ns.name, "deployer.v2", {}, { "example.com/note": "x" }), ns]);
  }
  return pairs;
}
