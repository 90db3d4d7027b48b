import { describe, expect, it } from "vitest";
import { silentLogger } from "../logging/logger.js";
import type { CachedSecret, CachedServiceAccount } from "../kube/views.js";
import { ADDED_ANNOTATION, INSTANCE_LABEL, MANAGED_BY_LABEL, MAPPING_LABEL } from "./ownership.js";
import { RetiredMappings, leftBehind, recordedByInstance } from "./retired.js";

const sa = (namespace: string, added: string): CachedServiceAccount => ({
  namespace,
  name: "default",
  uid: "u",
  resourceVersion: "1",
  labels: {},
  annotations: { [ADDED_ANNOTATION]: added },
  imagePullSecrets: added.split(",").map((r) => r.split("@")[0] ?? ""),
});
const copy = (namespace: string, mapping: string, instance = "default"): CachedSecret => ({
  namespace,
  name: "pull",
  uid: "s",
  resourceVersion: "1",
  type: "kubernetes.io/dockerconfigjson",
  labels: { [MANAGED_BY_LABEL]: "imagepullsecret-patcher", [MAPPING_LABEL]: mapping, [INSTANCE_LABEL]: instance },
  annotations: {},
  dataKeys: [".dockerconfigjson"],
  deleting: false,
});
const store = (...secrets: CachedSecret[]): { list(): CachedSecret[]; get(key: string): CachedSecret | undefined } => ({
  list: () => secrets,
  get: (key) => secrets.find((s) => `${s.namespace}/${s.name}` === key),
});

describe("RetiredMappings", () => {
  it("tracks each (mapping, copy name) once and refuses new ones past its cap", () => {
    const retired = new RetiredMappings(silentLogger, 2);
    expect(retired.add("a", "pull")).toBe(true);
    expect(retired.add("a", "pull")).toBe(false);
    expect(retired.add("b", "pull")).toBe(true);
    expect(retired.add("c", "pull")).toBe(false);
    expect([...retired.keys()]).toEqual(["a~pull", "b~pull"]);
  });
});

describe("recordedByInstance", () => {
  it("names the mappings only this instance's records carry", () => {
    expect(recordedByInstance("default", [sa("n1", "pull@default/old,other@beta/x,bare")])).toEqual([
      { name: "old", secretName: "pull" },
    ]);
  });
});

describe("leftBehind", () => {
  const r = { name: "old", secretName: "pull" };
  it("is true while a copy of the mapping or a record of its entry remains", () => {
    expect(leftBehind(r, "default", store(copy("n1", "old")), [])).toBe(true);
    expect(leftBehind(r, "default", store(), [["n1", [sa("n1", "pull@default/old")]]])).toBe(true);
  });
  it("ignores another instance's copies and records, and records without owner where the copy is not the mapping's", () => {
    expect(leftBehind(r, "default", store(copy("n1", "old", "beta")), [["n1", [sa("n1", "pull@beta/old")]]])).toBe(
      false,
    );
    expect(leftBehind(r, "default", store(copy("n1", "new")), [["n1", [sa("n1", "pull")]]])).toBe(false);
  });
});
