import type * as k8s from "@kubernetes/client-node";

/** What an install of the patcher should be allowed to do, as derived from its config. */
export interface Install {
  label: string;
  /** The patcher's namespace (ServiceAccount, Lease). */
  namespace: string;
  serviceAccount: string;
  /** Secret names the patcher writes into target namespaces. */
  copyNames: string[];
  /** Source Secrets it reads: namespace -> names. */
  sources: Record<string, string[]>;
  lease: string;
  /** Copy names of removed mappings it may still clean up (list, watch, delete; nothing else). */
  retiredNames?: string[];
}

export interface AccessCase {
  /** Readable and unique, e.g. `list secrets/image-pull-secret (all namespaces)`. */
  what: string;
  attrs: k8s.V1ResourceAttributes;
  allowed: boolean;
}

export const OTHER_SECRET = "not-a-copy";

function where(ns: string | undefined): string {
  return ns ? `in ${ns}` : "(all namespaces)";
}

function c(
  allowed: boolean,
  verb: string,
  resource: string,
  opts: { ns?: string; name?: string; group?: string; subresource?: string; fieldSelector?: string; note?: string } = {},
): AccessCase {
  const target = `${resource}${opts.name ? `/${opts.name}` : ""}${opts.subresource ? `/${opts.subresource}` : ""}`;
  const fs = opts.fieldSelector ? ` ?fieldSelector=${opts.fieldSelector}` : "";
  return {
    what: `${verb} ${target}${fs} ${where(opts.ns)}${opts.note ? ` ${opts.note}` : ""}`,
    attrs: {
      verb,
      group: opts.group ?? "",
      resource,
      ...(opts.ns ? { namespace: opts.ns } : {}),
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
      ...(opts.fieldSelector ? { fieldSelector: { rawSelector: opts.fieldSelector } } : {}),
    },
    allowed,
  };
}

// What the patcher really does with a copy: lists and watches it by name (its informer), replaces
// it (PUT) and deletes it. It never GETs or PATCHes a Secret.
const COPY_VERBS = ["list", "watch", "update", "delete"];
const UNUSED_SECRET_VERBS = ["get", "patch"];

function copyCases(i: Install, elsewhere: string): AccessCase[] {
  const cases: AccessCase[] = [];
  for (const copy of i.copyNames) {
    for (const ns of [elsewhere, "default", "kube-system"]) {
      for (const verb of COPY_VERBS) cases.push(c(true, verb, "secrets", { ns, name: copy }));
      for (const verb of UNUSED_SECRET_VERBS) {
        cases.push(c(false, verb, "secrets", { ns, name: copy, note: "(unused verb)" }));
      }
    }
    for (const verb of ["list", "watch"]) cases.push(c(true, verb, "secrets", { name: copy }));
    // What a real `?fieldSelector=metadata.name=<copy>` request is authorized as: the API server
    // fills in the name from the selector (and since 1.31 passes the selector along too).
    cases.push(c(true, "list", "secrets", { name: copy, fieldSelector: `metadata.name=${copy}` }));
    // RBAC reads only the name; a review that carries the selector without the name is refused.
    cases.push(c(false, "list", "secrets", { fieldSelector: `metadata.name=${copy}`, note: "without name" }));
  }
  return cases;
}

function retiredCases(i: Install, elsewhere: string): AccessCase[] {
  const cases: AccessCase[] = [];
  const cleanup = "(cleanup of a removed mapping)";
  for (const name of i.retiredNames ?? []) {
    for (const ns of [elsewhere, "default"]) {
      for (const verb of ["list", "watch", "delete"]) cases.push(c(true, verb, "secrets", { ns, name, note: cleanup }));
      for (const verb of ["get", "update", "patch"]) {
        cases.push(c(false, verb, "secrets", { ns, name, note: "(removed mapping: cleanup only)" }));
      }
    }
    cases.push(c(true, "list", "secrets", { name, note: cleanup }));
  }
  return cases;
}

/** Secrets that are neither copies nor sources are out of reach; creating a copy is allowed anywhere. */
function otherSecretCases(i: Install, elsewhere: string): AccessCase[] {
  const cases: AccessCase[] = [];
  for (const ns of [elsewhere, "default", i.namespace, ...Object.keys(i.sources)]) {
    for (const verb of [...COPY_VERBS, ...UNUSED_SECRET_VERBS]) {
      cases.push(c(false, verb, "secrets", { ns, name: OTHER_SECRET }));
    }
    for (const verb of ["list", "watch", "deletecollection"]) cases.push(c(false, verb, "secrets", { ns }));
    cases.push(c(true, "create", "secrets", { ns }));
  }
  for (const verb of ["list", "watch"]) {
    cases.push(c(false, verb, "secrets"));
    cases.push(c(false, verb, "secrets", { name: OTHER_SECRET }));
  }
  return cases;
}

/** A source is read with list and watch by name (its informer), in its own namespace only. */
function sourceCases(i: Install, elsewhere: string): AccessCase[] {
  const cases: AccessCase[] = [];
  for (const [ns, names] of Object.entries(i.sources)) {
    for (const name of names) {
      cases.push(c(false, "get", "secrets", { ns, name, note: "(source; unused verb)" }));
      if (i.copyNames.includes(name)) continue; // would be allowed everywhere as a copy name
      for (const verb of ["list", "watch"]) {
        cases.push(c(true, verb, "secrets", { ns, name }));
        cases.push(c(false, verb, "secrets", { ns: elsewhere, name }));
      }
      cases.push(c(false, "list", "secrets", { name }));
      for (const verb of ["update", "patch", "delete"]) cases.push(c(false, verb, "secrets", { ns, name }));
      for (const other of Object.keys(i.sources)) {
        if (other !== ns && !i.sources[other]?.includes(name)) {
          cases.push(c(false, "list", "secrets", { ns: other, name }));
        }
      }
    }
  }
  return cases;
}

function serviceAccountAndNamespaceCases(elsewhere: string): AccessCase[] {
  const cases: AccessCase[] = [];
  const sa = { ns: elsewhere, name: "default" };
  for (const verb of ["list", "watch"]) cases.push(c(true, verb, "serviceaccounts"));
  cases.push(c(true, "patch", "serviceaccounts", sa));
  cases.push(c(false, "get", "serviceaccounts", { ...sa, note: "(unused verb)" }));
  for (const verb of ["create", "update", "delete"]) cases.push(c(false, verb, "serviceaccounts", sa));
  cases.push(c(false, "create", "serviceaccounts", { ...sa, subresource: "token" }));
  for (const verb of ["list", "watch"]) cases.push(c(true, verb, "namespaces"));
  cases.push(c(false, "get", "namespaces", { name: elsewhere, note: "(unused verb)" }));
  for (const verb of ["create", "update", "patch", "delete"]) cases.push(c(false, verb, "namespaces", { name: elsewhere }));
  return cases;
}

function eventCases(elsewhere: string): AccessCase[] {
  const cases: AccessCase[] = [c(true, "create", "events", { ns: elsewhere })];
  // Events are only created (one per change, de-duplicated in memory), never patched or updated.
  for (const verb of ["patch", "update"]) {
    cases.push(c(false, verb, "events", { ns: elsewhere, name: "x", note: "(unused verb)" }));
  }
  cases.push(c(false, "delete", "events", { ns: elsewhere, name: "x" }));
  cases.push(c(false, "create", "events", { ns: elsewhere, group: "events.k8s.io", note: "(events.k8s.io)" }));
  return cases;
}

function leaseCases(i: Install, elsewhere: string): AccessCase[] {
  const group = "coordination.k8s.io";
  const own = { group, ns: i.namespace, name: i.lease };
  return [
    c(true, "create", "leases", { group, ns: i.namespace }),
    c(true, "get", "leases", own),
    c(true, "update", "leases", own),
    c(false, "delete", "leases", own),
    c(false, "patch", "leases", own),
    c(false, "get", "leases", { ...own, name: "someone-elses-lease" }),
    c(false, "update", "leases", { group, ns: "kube-system", name: "kube-controller-manager" }),
    c(false, "create", "leases", { group, ns: elsewhere }),
  ];
}

/**
 * The access matrix an install must have. `elsewhere` is a namespace that neither holds a source
 * nor the patcher (it need not exist: authorization does not look).
 */
export function accessMatrix(i: Install, elsewhere: string): AccessCase[] {
  return [
    ...copyCases(i, elsewhere),
    ...retiredCases(i, elsewhere),
    ...otherSecretCases(i, elsewhere),
    ...sourceCases(i, elsewhere),
    ...serviceAccountAndNamespaceCases(elsewhere),
    ...eventCases(elsewhere),
    ...leaseCases(i, elsewhere),
    c(false, "get", "configmaps", { ns: i.namespace }),
    c(false, "list", "pods", { ns: elsewhere }),
    c(false, "create", "clusterrolebindings", { group: "rbac.authorization.k8s.io" }),
  ];
}

/** The verbs each rule of the ClusterRole must grant, exactly: what the patcher's code calls. */
export const USED_CLUSTER_VERBS = {
  namespaces: ["list", "watch"],
  serviceaccounts: ["list", "watch", "patch"],
  secretsCreate: ["create"],
  copies: ["list", "watch", "update", "delete"],
  retired: ["list", "watch", "delete"],
  events: ["create"],
  sources: ["list", "watch"],
} as const;

/** Runs every case as a SubjectAccessReview for the install's ServiceAccount; returns what -> allowed. */
export async function review(authz: k8s.AuthorizationV1Api, i: Install, cases: readonly AccessCase[]): Promise<Record<string, boolean>> {
  const user = `system:serviceaccount:${i.namespace}:${i.serviceAccount}`;
  const groups = ["system:serviceaccounts", `system:serviceaccounts:${i.namespace}`, "system:authenticated"];
  const out: Record<string, boolean> = {};
  // A few at a time: hundreds of reviews are cheap for the API server, but not all at once.
  for (let start = 0; start < cases.length; start += 16) {
    const batch = cases.slice(start, start + 16);
    const results = await Promise.all(
      batch.map((k) =>
        authz.createSubjectAccessReview({ body: { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec: { user, groups, resourceAttributes: k.attrs } } }),
      ),
    );
    batch.forEach((k, n) => {
      if (k.what in out) throw new Error(`duplicate access case: ${k.what}`);
      out[k.what] = results[n]?.status?.allowed === true;
    });
  }
  return out;
}

export function expectedOf(cases: readonly AccessCase[]): Record<string, boolean> {
  return Object.fromEntries(cases.map((k) => [k.what, k.allowed]));
}
