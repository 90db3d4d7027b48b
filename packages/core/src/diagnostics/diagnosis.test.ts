import { describe, expect, it } from "vitest";
import { diagnosePod, podFacts, type PodFacts, type SelectingMapping } from "./diagnosis.js";

const rs = { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7f9", uid: "rs-1", controller: true };

function facts(over: Partial<PodFacts> = {}): PodFacts {
  return {
    uid: "u-1",
    deleting: false,
    imagePullSecrets: [],
    ownerReferences: [rs],
    waitingReasons: ["ImagePullBackOff"],
    ...over,
  };
}

const teamA: SelectingMapping = { mapping: "team-a", secretName: "team-a-pull", copyExists: true };

describe("diagnosePod", () => {
  it("leaves a Pod no mapping selects alone", () => {
    expect(diagnosePod(facts(), [])).toEqual({ verdict: "not-selected" });
  });

  it("finds nothing when the Pod names every selecting mapping's copy", () => {
    expect(diagnosePod(facts({ imagePullSecrets: [{ name: "other" }, { name: "team-a-pull" }] }), [teamA])).toEqual({
      verdict: "has-copies",
    });
  });

  it("lets a stuck ReplicaSet Pod be deleted when the copy exists", () => {
    const d = diagnosePod(facts(), [teamA]);
    expect(d).toEqual({ verdict: "missing", missing: [teamA], controller: rs, deletable: true, keepReason: "" });
  });

  it("lists only the copies the Pod lacks", () => {
    const teamB = { mapping: "team-b", secretName: "team-b-pull", copyExists: true };
    const d = diagnosePod(facts({ imagePullSecrets: [{ name: "team-b-pull" }] }), [teamA, teamB]);
    expect(d.verdict === "missing" && d.missing).toEqual([teamA]);
  });

  it.each([
    ["a bare Pod", facts({ ownerReferences: [] }), [teamA], "no controller owns it"],
    [
      "an owner that is not the controller",
      facts({ ownerReferences: [{ ...rs, controller: false }] }),
      [teamA],
      "no controller",
    ],
    [
      "a controller that does not recreate Pods",
      facts({ ownerReferences: [{ apiVersion: "example.io/v1", kind: "Thing", name: "t", controller: true }] }),
      [teamA],
      "is not one that recreates Pods",
    ],
    ["a Pod being deleted", facts({ deleting: true }), [teamA], "being deleted"],
    ["a copy not made yet", facts(), [{ ...teamA, copyExists: false }], "team-a-pull does not exist"],
    ["a Pod that pulled after all", facts({ waitingReasons: [] }), [teamA], "no container is waiting"],
  ])("keeps %s", (_what, pod, selecting, reason) => {
    const d = diagnosePod(pod, selecting);
    expect(d.verdict).toBe("missing");
    expect(d.verdict === "missing" && d.deletable).toBe(false);
    expect(d.verdict === "missing" && d.keepReason).toContain(reason);
  });

  it.each(["StatefulSet", "DaemonSet"])("accepts a %s owner", (kind) => {
    const d = diagnosePod(facts({ ownerReferences: [{ ...rs, kind }] }), [teamA]);
    expect(d.verdict === "missing" && d.deletable).toBe(true);
  });

  it("accepts a Job owner of batch/v1 only", () => {
    const job = { apiVersion: "batch/v1", kind: "Job", name: "j", controller: true };
    expect(diagnosePod(facts({ ownerReferences: [job] }), [teamA])).toMatchObject({ deletable: true });
    expect(diagnosePod(facts({ ownerReferences: [{ ...job, apiVersion: "apps/v1" }] }), [teamA])).toMatchObject({
      deletable: false,
    });
  });
});

describe("podFacts", () => {
  it("reads uid, deletion, pull secrets, owners and waiting reasons of init and app containers", () => {
    const f = podFacts({
      metadata: { uid: "u-9", deletionTimestamp: new Date(), ownerReferences: [rs] },
      spec: { imagePullSecrets: [{ name: "x" }] },
      status: {
        initContainerStatuses: [{ state: { waiting: { reason: "ErrImagePull" } } }],
        containerStatuses: [{ state: { waiting: { reason: "PodInitializing" } } }, { state: {} }],
      },
    });
    expect(f).toEqual({
      uid: "u-9",
      deleting: true,
      imagePullSecrets: [{ name: "x" }],
      ownerReferences: [rs],
      waitingReasons: ["ErrImagePull", "PodInitializing"],
    });
  });
});
