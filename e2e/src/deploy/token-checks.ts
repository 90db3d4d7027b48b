import type { KubeConfig } from "@kubernetes/client-node";
import { OTHER_SECRET, type Install } from "./access.ts";
import { rawRequest } from "./apply.ts";

/** The resourceVersion of the first item of a list response. */
function firstItemVersion(r: RequestResult | undefined): string | undefined {
  try {
    return (JSON.parse(r?.body ?? "{}") as { items?: { metadata?: { resourceVersion?: string } }[] }).items?.[0]?.metadata?.resourceVersion;
  } catch {
    return undefined;
  }
}

/** A placeholder credential: the copies and sources these checks create carry no real secret. */
export const EMPTY_DOCKER_CONFIG = Buffer.from('{"auths":{}}').toString("base64");

export interface RequestCase {
  what: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  /** The request body, or a function of the earlier results (e.g. to take a resourceVersion). */
  body?: unknown;
  contentType?: string;
  /** A watch: only the response status is read. */
  watch?: boolean;
  expect: number;
}

export interface RequestResult {
  status: number;
  body: string;
}

function resourceVersion(r: RequestResult | undefined): string | undefined {
  try {
    return (JSON.parse(r?.body ?? "{}") as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
  } catch {
    return undefined;
  }
}

const sel = (name: string, op = "="): string => `fieldSelector=${encodeURIComponent(`metadata.name${op}${name}`)}`;

/**
 * Real requests the patcher makes (and some it must not be able to make), for its ServiceAccount
 * token. Run in order: some write. Expects, in namespace `target`: a dockerconfigjson Secret per copy
 * name, a Secret OTHER_SECRET, the `default` ServiceAccount; and every source Secret.
 */
export function requestMatrix(i: Install, target: string, unique: string): RequestCase[] {
  const cases: RequestCase[] = [];
  const add = (expect: number, what: string, method: RequestCase["method"], path: string, extra: Partial<RequestCase> = {}): void => {
    cases.push({ what: `${method} ${what}`, method, path, expect, ...extra });
  };
  const secrets = (ns: string): string => `/api/v1/namespaces/${ns}/secrets`;
  for (const copy of i.copyNames) {
    add(200, `list all namespaces' secrets named ${copy}`, "GET", `/api/v1/secrets?${sel(copy)}`);
    add(200, `watch all namespaces' secrets named ${copy}`, "GET", `/api/v1/secrets?${sel(copy)}&watch=true&timeoutSeconds=5`, { watch: true });
    add(200, `list ${target}'s secrets named ${copy}`, "GET", `${secrets(target)}?${sel(copy)}`);
    add(200, `list secrets named ${copy} (== operator)`, "GET", `/api/v1/secrets?${sel(copy, "==")}`);
    add(200, `list secrets named ${copy} and of a type`, "GET", `/api/v1/secrets?fieldSelector=${encodeURIComponent(`metadata.name=${copy},type=kubernetes.io/dockerconfigjson`)}`);
    // The patcher never GETs or PATCHes a copy (it reads its watch cache and replaces with PUT).
    add(403, `get ${target}/${copy} (unused verb)`, "GET", `${secrets(target)}/${copy}`);
    add(200, `update ${target}/${copy}`, "PUT", `${secrets(target)}/${copy}`, {
      body: (earlier: Record<string, RequestResult>) => ({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: copy, namespace: target, labels: { updated: "by-token" }, resourceVersion: firstItemVersion(earlier[`GET list ${target}'s secrets named ${copy}`]) },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": EMPTY_DOCKER_CONFIG },
      }),
      contentType: "application/json",
    });
    add(403, `merge-patch ${target}/${copy} (unused verb)`, "PATCH", `${secrets(target)}/${copy}`, {
      body: { metadata: { annotations: { patched: "by-token" } } },
      contentType: "application/merge-patch+json",
    });
  }
  const first = i.copyNames[0] ?? "image-pull-secret";
  add(403, "list all secrets", "GET", "/api/v1/secrets");
  add(403, "watch all secrets", "GET", "/api/v1/secrets?watch=true&timeoutSeconds=5", { watch: true });
  add(403, `list all of ${target}'s secrets`, "GET", secrets(target));
  add(403, `list secrets named ${OTHER_SECRET}`, "GET", `/api/v1/secrets?${sel(OTHER_SECRET)}`);
  add(403, `watch secrets named ${OTHER_SECRET}`, "GET", `/api/v1/secrets?${sel(OTHER_SECRET)}&watch=true&timeoutSeconds=5`, { watch: true });
  add(403, `list secrets NOT named ${first}`, "GET", `/api/v1/secrets?${sel(first, "!=")}`);
  add(403, "list secrets by type only", "GET", `/api/v1/secrets?fieldSelector=${encodeURIComponent("type=kubernetes.io/dockerconfigjson")}`);
  add(403, "list secrets by label only", "GET", `/api/v1/secrets?labelSelector=${encodeURIComponent("app=anything")}`);
  add(403, `get ${target}/${OTHER_SECRET}`, "GET", `${secrets(target)}/${OTHER_SECRET}`);
  add(403, `update ${target}/${OTHER_SECRET}`, "PUT", `${secrets(target)}/${OTHER_SECRET}`, {
    body: { apiVersion: "v1", kind: "Secret", metadata: { name: OTHER_SECRET, namespace: target }, type: "Opaque" },
    contentType: "application/json",
  });
  add(403, `delete ${target}/${OTHER_SECRET}`, "DELETE", `${secrets(target)}/${OTHER_SECRET}`);
  const created = `created-${unique}`;
  add(201, `create ${target}/${created} (create cannot be limited by name)`, "POST", secrets(target), {
    body: { apiVersion: "v1", kind: "Secret", metadata: { name: created }, type: "Opaque" },
    contentType: "application/json",
  });
  add(403, `get ${target}/${created} it just created`, "GET", `${secrets(target)}/${created}`);
  add(403, `delete ${target}/${created} it just created`, "DELETE", `${secrets(target)}/${created}`);
  add(200, `delete ${target}/${first}`, "DELETE", `${secrets(target)}/${first}`);

  for (const [ns, names] of Object.entries(i.sources)) {
    for (const name of names) {
      add(200, `list ${ns}'s secrets named ${name} (source)`, "GET", `${secrets(ns)}?${sel(name)}`);
      add(200, `watch ${ns}'s secrets named ${name} (source)`, "GET", `${secrets(ns)}?${sel(name)}&watch=true&timeoutSeconds=5`, { watch: true });
      add(403, `get ${ns}/${name} (source; unused verb)`, "GET", `${secrets(ns)}/${name}`);
      if (!i.copyNames.includes(name)) {
        add(403, `list ${target}'s secrets named ${name} (source name, other namespace)`, "GET", `${secrets(target)}?${sel(name)}`);
        add(403, `list all namespaces' secrets named ${name} (source name)`, "GET", `/api/v1/secrets?${sel(name)}`);
        add(403, `delete ${ns}/${name} (source)`, "DELETE", `${secrets(ns)}/${name}`);
      }
    }
    add(403, `list all of ${ns}'s secrets (source namespace)`, "GET", secrets(ns));
  }

  add(200, "list namespaces", "GET", "/api/v1/namespaces");
  add(403, `get namespace ${target} (unused verb)`, "GET", `/api/v1/namespaces/${target}`);
  add(200, "watch namespaces", "GET", "/api/v1/namespaces?watch=true&timeoutSeconds=5", { watch: true });
  add(200, "list all serviceaccounts", "GET", "/api/v1/serviceaccounts");
  add(200, "watch all serviceaccounts", "GET", "/api/v1/serviceaccounts?watch=true&timeoutSeconds=5", { watch: true });
  add(200, `json-patch ${target}/default serviceaccount`, "PATCH", `/api/v1/namespaces/${target}/serviceaccounts/default`, {
    body: [{ op: "add", path: "/imagePullSecrets", value: [{ name: first }] }],
    contentType: "application/json-patch+json",
  });
  add(403, `get ${target}/default serviceaccount (unused verb)`, "GET", `/api/v1/namespaces/${target}/serviceaccounts/default`);
  add(403, `delete ${target}/default serviceaccount`, "DELETE", `/api/v1/namespaces/${target}/serviceaccounts/default`);
  add(201, `create an Event in ${target}`, "POST", `/api/v1/namespaces/${target}/events`, {
    body: {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `default.${unique}` },
      involvedObject: { apiVersion: "v1", kind: "ServiceAccount", namespace: target, name: "default" },
      reason: "E2EProbe",
      message: "RBAC probe",
      type: "Normal",
      source: { component: "imagepullsecret-patcher" },
    },
    contentType: "application/json",
  });
  add(403, `merge-patch the Event in ${target} (unused verb)`, "PATCH", `/api/v1/namespaces/${target}/events/default.${unique}`, {
    body: { count: 2 },
    contentType: "application/merge-patch+json",
  });
  const leases = (ns: string): string => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
  const lease = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: i.lease }, spec: { holderIdentity: "e2e", leaseDurationSeconds: 15 } };
  add(201, `create Lease ${i.namespace}/${i.lease}`, "POST", leases(i.namespace), { body: lease, contentType: "application/json" });
  add(200, `get Lease ${i.namespace}/${i.lease}`, "GET", `${leases(i.namespace)}/${i.lease}`);
  add(200, `update Lease ${i.namespace}/${i.lease}`, "PUT", `${leases(i.namespace)}/${i.lease}`, {
    body: (earlier: Record<string, RequestResult>) => ({
      ...lease,
      metadata: { name: i.lease, namespace: i.namespace, resourceVersion: resourceVersion(earlier[`GET get Lease ${i.namespace}/${i.lease}`]) },
      spec: { ...lease.spec, holderIdentity: "e2e-2" },
    }),
    contentType: "application/json",
  });
  add(403, `delete Lease ${i.namespace}/${i.lease}`, "DELETE", `${leases(i.namespace)}/${i.lease}`);
  add(403, `get another Lease in ${i.namespace}`, "GET", `${leases(i.namespace)}/someone-elses-lease`);
  add(403, `create a Lease in ${target}`, "POST", leases(target), { body: lease, contentType: "application/json" });
  add(403, `list configmaps in ${i.namespace}`, "GET", `/api/v1/namespaces/${i.namespace}/configmaps`);
  return cases;
}

/** Runs the cases in order with `kc` (a ServiceAccount token). */
export async function runRequests(kc: KubeConfig, cases: readonly RequestCase[]): Promise<Record<string, RequestResult>> {
  const out: Record<string, RequestResult> = {};
  for (const k of cases) {
    if (k.what in out) throw new Error(`duplicate request case: ${k.what}`);
    const body: unknown = typeof k.body === "function" ? (k.body as (earlier: Record<string, RequestResult>) => unknown)(out) : k.body;
    const res = await rawRequest(kc, k.method, k.path, {
      ...(body === undefined ? {} : { body: JSON.stringify(body), contentType: k.contentType ?? "application/json" }),
      headersOnly: k.watch === true,
    });
    out[k.what] = { status: res.status, body: res.body };
  }
  return out;
}
