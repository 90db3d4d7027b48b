import { describe, expect, it } from "vitest";
import { parseDockerConfigJson } from "../credentials/docker-config.js";
import type { CachedNamespace, CachedSecret, CachedServiceAccount } from "../kube/views.js";
import { planKey, type KeyState, type MappingPolicy } from "./plan.js";
import { ADDED_ANNOTATION, ADOPT_ANNOTATION, INSTANCE_LABEL, MANAGED_BY_LABEL, MAPPING_LABEL } from "./ownership.js";
import { OPT_OUT_ANNOTATION } from "../selectors/opt-out.js";
import { addReferencePatch, claimReferencePatch, removeReferencePatch } from "./apply.js";

const credential = {
  credential: parseDockerConfigJson(
    JSON.stringify({ auths: { r: { auth: Buffer.from("u:p").toString("base64") } } }),
    "test",
  ),
  fetchedAt: new Date(0),
};
const otherHash = parseDockerConfigJson(JSON.stringify({ auths: { other: {} } }), "t").hash;

const mapping: MappingPolicy = {
  name: "team-a",
  secretName: "pull",
  selector: { description: "label team=a", matches: (ns) => ns.labels.team === "a" },
  strategy: { description: "default", selects: (sa) => sa.name === "default" },
  conflictPolicy: "skip",
  active: true,
};

function ns(labels: Record<string, string> = { team: "a" }, phase = "Active"): CachedNamespace {
  return { name: "ns1", uid: "ns-uid", resourceVersion: "1", labels, annotations: {}, phase };
}

function copy(overrides: Partial<CachedSecret> = {}): CachedSecret {
  return {
    namespace: "ns1",
    name: "pull",
    uid: "s-uid",
    resourceVersion: "10",
    type: "kubernetes.io/dockerconfigjson",
    labels: { [MANAGED_BY_LABEL]: "imagepullsecret-patcher", [MAPPING_LABEL]: "team-a", [INSTANCE_LABEL]: "default" },
    annotations: {},
    dataHash: credential.credential.hash,
    dataKeys: [".dockerconfigjson"],
    deleting: false,
    ...overrides,
  };
}

function sa(name: string, pulls: string[] = [], annotations: Record<string, string> = {}): CachedServiceAccount {
  return {
    namespace: "ns1",
    name,
    uid: `${name}-uid`,
    resourceVersion: "5",
    labels: {},
    annotations,
    imagePullSecrets: pulls,
  };
}

function state(overrides: Partial<KeyState> = {}): KeyState {
  return {
    mapping,
    instance: "default",
    namespaceName: "ns1",
    namespace: ns(),
    credential,
    sourceSecrets: [{ namespace: "kube-system", name: "regcred" }],
    secret: undefined,
    serviceAccounts: [sa("default")],
    claimedBy: undefined,
    retainOnRemoval: false,
    ...overrides,
  };
}

const types = (s: KeyState): string[] => planKey(s).actions.map((a) => a.type);

describe("planKey", () => {
  it("creates the copy and patches the default ServiceAccount in a new namespace", () => {
    expect(types(state())).toEqual(["create-secret", "add-reference"]);
  });

  it("does nothing when copy and ServiceAccounts are up to date", () => {
    const p = planKey(
      state({
        secret: copy(),
        serviceAccounts: [
          sa("default", ["other", "pull"], { [ADDED_ANNOTATION]: "pull@default/team-a" }),
          sa("builder"),
        ],
      }),
    );
    expect(p.outcome).toBe("in-sync");
    expect(p.actions).toEqual([]);
  });

  it("updates in place when the content differs", () => {
    expect(planKey(state({ secret: copy({ dataHash: otherHash }), serviceAccounts: [] })).actions).toEqual([
      { type: "update-secret", resourceVersion: "10", adopt: false },
    ]);
  });

  it("updates when extra data keys were added to the copy", () => {
    expect(types(state({ secret: copy({ dataKeys: [".dockerconfigjson", "x"] }), serviceAccounts: [] }))).toEqual([
      "update-secret",
    ]);
  });

  it("recreates only when the type must change", () => {
    expect(planKey(state({ secret: copy({ type: "Opaque" }), serviceAccounts: [] })).actions).toEqual([
      { type: "recreate-secret", uid: "s-uid", adopt: false },
    ]);
  });

  it("leaves a foreign Secret alone under skip, and reports a conflict", () => {
    const p = planKey(state({ secret: copy({ labels: {} }) }));
    expect(p.outcome).toBe("conflict");
    expect(p.actions).toEqual([]);
    expect(p.reason).toContain("not managed by imagepullsecret-patcher");
  });

  it("adopts a foreign Secret only with identical content or the opt-in annotation", () => {
    const adopt = { ...mapping, conflictPolicy: "adopt" as const };
    expect(types(state({ mapping: adopt, secret: copy({ labels: {} }), serviceAccounts: [] }))).toEqual([
      "update-secret",
    ]);
    expect(planKey(state({ mapping: adopt, secret: copy({ labels: {}, dataHash: otherHash }) })).outcome).toBe(
      "conflict",
    );
    expect(
      types(
        state({
          mapping: adopt,
          secret: copy({ labels: {}, dataHash: otherHash, annotations: { [ADOPT_ANNOTATION]: "true" } }),
          serviceAccounts: [],
        }),
      ),
    ).toEqual(["update-secret"]);
  });

  it("overwrites a foreign Secret only when asked to", () => {
    const overwrite = { ...mapping, conflictPolicy: "overwrite" as const };
    expect(
      types(state({ mapping: overwrite, secret: copy({ labels: {}, type: "Opaque" }), serviceAccounts: [] })),
    ).toEqual(["recreate-secret"]);
  });

  it("takes over copies made by titansoft's patcher (annotation only)", () => {
    const legacy = copy({ labels: {}, annotations: { "app.kubernetes.io/managed-by": "imagepullsecret-patcher" } });
    expect(planKey(state({ secret: legacy, serviceAccounts: [] })).actions).toEqual([
      { type: "update-secret", resourceVersion: "10", adopt: true },
    ]);
  });

  it("never touches another instance's copy", () => {
    const p = planKey(state({ secret: copy({ labels: { ...copy().labels, [INSTANCE_LABEL]: "other" } }) }));
    expect(p.outcome).toBe("conflict");
    expect(p.actions).toEqual([]);
  });

  it("waits, without writing, while the source has no valid value", () => {
    const p = planKey(state({ credential: undefined, secret: copy() }));
    expect(p).toMatchObject({ outcome: "waiting", actions: [] });
  });

  it("skips terminating and missing namespaces", () => {
    expect(planKey(state({ namespace: ns({ team: "a" }, "Terminating") })).outcome).toBe("skipped");
    expect(planKey(state({ namespace: undefined })).outcome).toBe("skipped");
  });

  it("never writes over the source Secret itself", () => {
    const p = planKey(state({ sourceSecrets: [{ namespace: "ns1", name: "pull" }], secret: copy({ labels: {} }) }));
    expect(p).toMatchObject({ outcome: "skipped", actions: [] });
  });

  it("cleans up only its own copy and entries when the namespace leaves the mapping", () => {
    const accounts = [
      sa("default", ["mine-not", "pull"], { [ADDED_ANNOTATION]: "pull" }),
      sa("user-added", ["pull"]), // the user put it there: not ours to remove
    ];
    const p = planKey(state({ namespace: ns({ team: "b" }), secret: copy(), serviceAccounts: accounts }));
    expect(p.outcome).toBe("out-of-scope");
    expect(p.actions).toEqual([
      { type: "delete-secret", uid: "s-uid", resourceVersion: "10" },
      { type: "remove-reference", serviceAccount: accounts[0] },
    ]);
  });

  it("cleans up a namespace that opted out, whatever the selector says, and says so", () => {
    const accounts = [sa("default", ["pull"], { [ADDED_ANNOTATION]: "pull" })];
    const optedOut = { ...ns(), annotations: { [OPT_OUT_ANNOTATION]: "true" } };
    const p = planKey(state({ namespace: optedOut, secret: copy(), serviceAccounts: accounts }));
    expect(p.outcome).toBe("out-of-scope");
    expect(p.reason).toBe(`namespace opted out (${OPT_OUT_ANNOTATION}: "true"); cleaning up`);
    expect(p.actions).toEqual([
      { type: "delete-secret", uid: "s-uid", resourceVersion: "10" },
      { type: "remove-reference", serviceAccount: accounts[0] },
    ]);
    const notTrue = { ...ns(), annotations: { [OPT_OUT_ANNOTATION]: "True" } };
    expect(planKey(state({ namespace: notTrue, secret: copy(), serviceAccounts: accounts })).outcome).not.toBe(
      "out-of-scope",
    );
  });

  it("does not report an opted-out namespace holding a source as skipped", () => {
    const optedOut = { ...ns(), annotations: { [OPT_OUT_ANNOTATION]: "true" } };
    const p = planKey(state({ namespace: optedOut, sourceSecrets: [{ namespace: "ns1", name: "pull" }] }));
    expect(p).toMatchObject({ outcome: "out-of-scope", actions: [] });
  });

  it("does not delete a foreign Secret on cleanup", () => {
    expect(types(state({ namespace: ns({}), secret: copy({ labels: {} }), serviceAccounts: [] }))).toEqual([]);
  });

  it("cleans up a removed mapping, or keeps everything when retain is set", () => {
    const removed = { ...mapping, active: false };
    const accounts = [sa("default", ["pull"], { [ADDED_ANNOTATION]: "pull" })];
    expect(types(state({ mapping: removed, secret: copy(), serviceAccounts: accounts }))).toEqual([
      "delete-secret",
      "remove-reference",
    ]);
    expect(
      types(state({ mapping: removed, secret: copy(), serviceAccounts: accounts, retainOnRemoval: true })),
    ).toEqual([]);
  });

  it("yields to the mapping that comes first, without writing", () => {
    const p = planKey(state({ claimedBy: "team-0" }));
    expect(p).toMatchObject({ outcome: "conflict", actions: [] });
    expect(p.reason).toContain("team-0");
  });

  it("hands its copy and entries over, untouched, to the mapping that now selects the namespace", () => {
    const accounts = [sa("default", ["pull"], { [ADDED_ANNOTATION]: "pull" })];
    expect(types(state({ namespace: ns({}), claimedBy: "team-0", secret: copy(), serviceAccounts: accounts }))).toEqual(
      [],
    );
  });

  it("takes over, in place, a copy another mapping of this instance left behind", () => {
    const other = copy({ labels: { ...copy().labels, [MAPPING_LABEL]: "team-old" } });
    expect(planKey(state({ secret: other, serviceAccounts: [] })).actions).toEqual([
      { type: "update-secret", resourceVersion: "10", adopt: true },
    ]);
  });

  it("removes its entry from ServiceAccounts the strategy no longer selects", () => {
    const accounts = [sa("builder", ["pull"], { [ADDED_ANNOTATION]: "pull" })];
    expect(types(state({ secret: copy(), serviceAccounts: accounts }))).toEqual(["remove-reference"]);
  });
});

const target = { mappingName: "team-a", namespace: "ns1", secretName: "pull", instance: "default" };

describe("ServiceAccount patches", () => {
  it("appends to an existing list, records the entry with its owner, and never rewrites other entries", () => {
    const ops = addReferencePatch(sa("default", ["a", "b"], { keep: "x" }), target);
    expect(ops).toEqual([
      { op: "replace", path: "/metadata/resourceVersion", value: "5" },
      { op: "add", path: "/imagePullSecrets/-", value: { name: "pull" } },
      { op: "add", path: "/metadata/annotations/imagepullsecret-patcher.io~1added", value: "pull@default/team-a" },
    ]);
  });

  it("creates the list and the annotations when absent", () => {
    expect(addReferencePatch(sa("default"), target)).toEqual([
      { op: "replace", path: "/metadata/resourceVersion", value: "5" },
      { op: "add", path: "/imagePullSecrets", value: [{ name: "pull" }] },
      { op: "add", path: "/metadata/annotations", value: { [ADDED_ANNOTATION]: "pull@default/team-a" } },
    ]);
  });

  it("removes exactly our entry, checked by name, and keeps other records", () => {
    const ops = removeReferencePatch(
      sa("default", ["a", "pull", "b"], { [ADDED_ANNOTATION]: "other@beta/x,pull@default/team-a" }),
      target,
    );
    expect(ops).toEqual([
      { op: "replace", path: "/metadata/resourceVersion", value: "5" },
      { op: "test", path: "/imagePullSecrets/1/name", value: "pull" },
      { op: "remove", path: "/imagePullSecrets/1" },
      { op: "replace", path: "/metadata/annotations/imagepullsecret-patcher.io~1added", value: "other@beta/x" },
    ]);
  });

  it("claims an entry already present by rewriting only the record", () => {
    expect(claimReferencePatch(sa("default", ["pull"], { [ADDED_ANNOTATION]: "pull" }), target)).toEqual([
      { op: "replace", path: "/metadata/resourceVersion", value: "5" },
      { op: "replace", path: "/metadata/annotations/imagepullsecret-patcher.io~1added", value: "pull@default/team-a" },
    ]);
  });

  it("never removes a records annotation that is not there", () => {
    const ops = removeReferencePatch(sa("default", ["pull"], { keep: "x" }), target);
    expect(ops.some((op) => (op as { path: string }).path.includes("annotations"))).toBe(false);
  });
});

describe("several instances and mappings", () => {
  const beta = { [MANAGED_BY_LABEL]: "imagepullsecret-patcher", [MAPPING_LABEL]: "team-a", [INSTANCE_LABEL]: "beta" };

  it("leaves another instance's entry alone when this instance does not select the namespace", () => {
    const accounts = [sa("default", ["pull"], { [ADDED_ANNOTATION]: "pull@beta/team-a" })];
    const result = planKey(
      state({ namespace: ns({ team: "c" }), secret: copy({ labels: beta }), serviceAccounts: accounts }),
    );
    expect(result.outcome).toBe("out-of-scope");
    expect(result.actions).toEqual([]);
  });

  it("leaves another instance's copy alone, and its entries too, reporting a conflict", () => {
    const accounts = [sa("default", ["pull"], { [ADDED_ANNOTATION]: "pull@beta/team-a" })];
    const result = planKey(state({ secret: copy({ labels: beta }), serviceAccounts: accounts }));
    expect(result.outcome).toBe("conflict");
    expect(result.reason).toContain('instance "beta"');
    expect(result.actions).toEqual([]);
  });

  it("does not re-record an entry another instance recorded, even when it also wants it", () => {
    const accounts = [sa("default", ["pull"], { [ADDED_ANNOTATION]: "pull@beta/team-b" })];
    expect(planKey(state({ secret: copy(), serviceAccounts: accounts })).outcome).toBe("in-sync");
  });

  it("claims an entry another mapping of this instance recorded, so its own cleanup later removes it", () => {
    const accounts = [sa("default", ["pull"], { [ADDED_ANNOTATION]: "pull@default/team-old" })];
    expect(types(state({ secret: copy(), serviceAccounts: accounts }))).toEqual(["claim-reference"]);
  });

  it("leaves an entry a user added by hand (no record) alone, wanted or not", () => {
    expect(planKey(state({ secret: copy(), serviceAccounts: [sa("default", ["pull"])] })).outcome).toBe("in-sync");
    const out = planKey(
      state({ namespace: ns({ team: "z" }), secret: copy(), serviceAccounts: [sa("default", ["pull"])] }),
    );
    expect(out.actions.map((a) => a.type)).toEqual(["delete-secret"]);
  });

  it("records as its own an entry recorded without owner (older versions), once", () => {
    const accounts = [sa("default", ["pull"], { [ADDED_ANNOTATION]: "pull" })];
    expect(types(state({ secret: copy(), serviceAccounts: accounts }))).toEqual(["claim-reference"]);
  });

  it("drops, where it took over, the entries the previous mapping added that its own strategy does not want", () => {
    const accounts = [
      sa("default", ["pull"], { [ADDED_ANNOTATION]: "pull@default/team-old" }),
      sa("builder", ["pull"], { [ADDED_ANNOTATION]: "pull@default/team-old" }),
    ];
    expect(
      planKey(state({ secret: copy(), serviceAccounts: accounts })).actions.map(
        (a) => `${a.type} ${"serviceAccount" in a ? a.serviceAccount.name : ""}`,
      ),
    ).toEqual(["claim-reference default", "remove-reference builder"]);
  });

  it("removes a record without owner only for a copy this mapping owns", () => {
    const accounts = [sa("default", ["pull"], { [ADDED_ANNOTATION]: "pull" })];
    const foreignCopy = planKey(
      state({ namespace: ns({ team: "z" }), secret: copy({ labels: beta }), serviceAccounts: accounts }),
    );
    expect(foreignCopy.actions).toEqual([]);
    const ownCopy = planKey(state({ namespace: ns({ team: "z" }), secret: copy(), serviceAccounts: accounts }));
    expect(ownCopy.actions.map((a) => a.type)).toEqual(["delete-secret", "remove-reference"]);
  });

  it("never writes over any configured source, not only its own mapping's", () => {
    const result = planKey(
      state({
        sourceSecrets: [
          { namespace: "kube-system", name: "regcred" },
          { namespace: "ns1", name: "pull" },
        ],
      }),
    );
    expect(result.outcome).toBe("skipped");
    expect(result.reason).toContain("configured source");
    expect(result.actions).toEqual([]);
  });

  it("reports a source's namespace as skipped only where the mapping selects it, and never cleans it up", () => {
    const sources = [{ namespace: "ns1", name: "pull" }];
    const unselected = planKey(state({ namespace: ns({ team: "z" }), secret: copy(), sourceSecrets: sources }));
    expect(unselected.outcome).toBe("out-of-scope");
    expect(unselected.actions).toEqual([]);
  });
});
