import { describe, expect, it } from "vitest";
import type { NamespaceView, TargetSelector } from "@imagepullsecret-patcher/core";
import { PodAdmission, type AdmittingMapping, type ReviewResult } from "./pod-admission.js";

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as never;

const teamSelector: TargetSelector = {
  description: "team=a",
  matches: (ns: NamespaceView) => ns.labels["team"] === "a",
};
const mapping: AdmittingMapping = { name: "team-a", secretName: "team-a-pull", selector: teamSelector };

function review(
  namespace: string,
  imagePullSecrets?: { name: string }[],
  extra: Record<string, unknown> = {},
): unknown {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "u-1",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      operation: "CREATE",
      namespace,
      object: { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "x" }], imagePullSecrets } },
      ...extra,
    },
  };
}

function ns(name: string, labels: Record<string, string>): NamespaceView {
  return { name, labels, annotations: {}, phase: "Active" };
}

function setUp(lookup: (name: string) => Promise<NamespaceView | undefined>) {
  const results: ReviewResult[] = [];
  const patched: string[] = [];
  const admission = new PodAdmission({
    mappings: () => [mapping],
    lookupNamespace: lookup,
    onReviewed: (_m, r) => results.push(r),
    onPatched: (namespace) => patched.push(namespace),
    logger: silent,
  });
  return { admission, results, patched };
}

function decodedPatch(body: unknown): unknown {
  const response = (body as { response: { patch?: string; allowed: boolean } }).response;
  expect(response.allowed).toBe(true);
  return response.patch === undefined ? undefined : JSON.parse(Buffer.from(response.patch, "base64").toString("utf8"));
}

describe("PodAdmission", () => {
  it("adds the copy to a Pod in a selected namespace and reports it", async () => {
    const { admission, results, patched } = setUp((name) => Promise.resolve(ns(name, { team: "a" })));
    const answer = await admission.review("team-a", review("a1"));
    expect(answer.status).toBe(200);
    expect(decodedPatch(answer.body)).toEqual([
      { op: "add", path: "/spec/imagePullSecrets", value: [{ name: "team-a-pull" }] },
    ]);
    expect(results).toEqual(["patched"]);
    expect(patched).toEqual(["a1"]);
  });

  it("admits a Pod unchanged in a namespace that opted out of every mapping", async () => {
    const optedOut = (name: string): NamespaceView => ({
      ...ns(name, { team: "a" }),
      annotations: { "imagepullsecret-patcher.io/exclude": "true" },
    });
    const { admission, results } = setUp((name) => Promise.resolve(optedOut(name)));
    const answer = await admission.review("team-a", review("a1"));
    expect(decodedPatch(answer.body)).toBeUndefined();
    expect(results).toEqual(["not-selected"]);
  });

  it("appends to existing entries and leaves a Pod that already names the copy alone", async () => {
    const { admission, results } = setUp((name) => Promise.resolve(ns(name, { team: "a" })));
    const appended = await admission.review("team-a", review("a1", [{ name: "other" }]));
    expect(decodedPatch(appended.body)).toEqual([
      { op: "add", path: "/spec/imagePullSecrets/-", value: { name: "team-a-pull" } },
    ]);
    const present = await admission.review("team-a", review("a1", [{ name: "team-a-pull" }]));
    expect(decodedPatch(present.body)).toBeUndefined();
    expect(results).toEqual(["patched", "present"]);
  });

  it("admits unchanged: namespace not selected, unknown, or unreadable; a dry run patches but triggers nothing", async () => {
    const other = setUp((name) => Promise.resolve(ns(name, { team: "b" })));
    expect(decodedPatch((await other.admission.review("team-a", review("b1"))).body)).toBeUndefined();
    const missing = setUp(() => Promise.resolve(undefined));
    expect(decodedPatch((await missing.admission.review("team-a", review("gone"))).body)).toBeUndefined();
    const failing = setUp(() => Promise.reject(new Error("connection refused")));
    const answer = await failing.admission.review("team-a", review("a1"));
    expect(answer.status).toBe(200);
    expect(decodedPatch(answer.body)).toBeUndefined();
    expect([...other.results, ...missing.results, ...failing.results]).toEqual([
      "not-selected",
      "not-selected",
      "lookup-failed",
    ]);
    const dry = setUp((name) => Promise.resolve(ns(name, { team: "a" })));
    expect(
      decodedPatch((await dry.admission.review("team-a", review("a1", undefined, { dryRun: true }))).body),
    ).toBeDefined();
    expect(dry.patched).toEqual([]);
  });

  it("answers a malformed review with 400 naming the field, and an unknown mapping with no patch", async () => {
    const { admission, results } = setUp((name) => Promise.resolve(ns(name, { team: "a" })));
    const bad = await admission.review("team-a", {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {},
    });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: string }).error).toMatch(/request\.uid/);
    const unknown = await admission.review("team-z", review("a1"));
    expect(decodedPatch(unknown.body)).toBeUndefined();
    expect(results).toEqual(["malformed", "skipped"]);
  });
});
