import { describe, expect, it } from "vitest";
import type { CoreV1Event, V1Pod } from "@kubernetes/client-node";
import { silentLogger, type NamespaceView } from "@imagepullsecret-patcher/core";
import type { DiagnosticsCluster, PodRef } from "./cluster.js";
import { MISSING_PULL_SECRET_REASON, PullDiagnostics, type DiagnosedMapping } from "./pull-diagnostics.js";

const mapping: DiagnosedMapping = {
  name: "team-a",
  secretName: "team-a-pull",
  selector: { description: "team-*", matches: (ns: NamespaceView) => ns.name.startsWith("team-") },
};

function pod(name: string, owned: boolean, pullSecrets: string[] = []): V1Pod {
  return {
    metadata: {
      name,
      namespace: "team-x",
      uid: `uid-${name}`,
      ownerReferences: owned
        ? [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-1", uid: "rs", controller: true }]
        : [],
    },
    spec: { containers: [], imagePullSecrets: pullSecrets.map((n) => ({ name: n })) },
    status: {
      containerStatuses: [
        {
          name: "app",
          image: "x",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: "ImagePullBackOff" } },
        },
      ],
    },
  };
}

function pullFailed(p: V1Pod, namespace = "team-x"): CoreV1Event {
  return {
    metadata: {},
    reason: "Failed",
    message: 'Failed to pull image "registry.example/app:1": 401 Unauthorized',
    involvedObject: { kind: "Pod", namespace, name: p.metadata?.name, uid: p.metadata?.uid },
  };
}

class FakeCluster implements DiagnosticsCluster {
  pods = new Map<string, V1Pod>();
  secrets = new Set<string>(["team-x/team-a-pull"]);
  warnings: { pod: string; reason: string; message: string }[] = [];
  deleted: PodRef[] = [];
  streamPullFailures = (): Promise<void> => Promise.resolve();
  namespace = (name: string): Promise<NamespaceView> =>
    Promise.resolve({ name, labels: {}, annotations: {}, phase: "Active" });
  pod = (_ns: string, name: string): Promise<V1Pod | undefined> => Promise.resolve(this.pods.get(name));
  secretExists = (ns: string, name: string): Promise<boolean> => Promise.resolve(this.secrets.has(`${ns}/${name}`));
  deletePod = (ref: PodRef): Promise<"deleted"> => {
    this.deleted.push(ref);
    return Promise.resolve("deleted");
  };
  warn = (ref: PodRef, reason: string, message: string): void =>
    void this.warnings.push({ pod: ref.name, reason, message });
}

function setup(deleteStuckPods: boolean, maxDeletesPerMinute = 10) {
  const cluster = new FakeCluster();
  const missing: string[] = [];
  const deleted: string[] = [];
  let now = 0;
  const diagnostics = new PullDiagnostics({
    config: { enabled: true, deleteStuckPods, maxDeletesPerMinute },
    cluster,
    mappings: () => Promise.resolve([mapping]),
    logger: silentLogger,
    onMissing: (m) => missing.push(m),
    onDeleted: (m) => deleted.push(m),
    now: () => now,
  });
  const add = (p: V1Pod): V1Pod => (cluster.pods.set(p.metadata?.name ?? "", p), p);
  return { cluster, diagnostics, missing, deleted, add, advance: (ms: number) => (now += ms) };
}

/** Feeds Events through `offer` and handles the queue, as `run` does. */
async function feed(d: PullDiagnostics, events: CoreV1Event[]): Promise<void> {
  const stop = new AbortController();
  const running = d.run(stop.signal);
  for (const e of events) d.offer(e);
  await new Promise((r) => setTimeout(r, 20));
  stop.abort();
  await running;
}

describe("PullDiagnostics", () => {
  it("reports a Pod lacking the copy once, however often the kubelet reports it", async () => {
    const t = setup(false);
    const p = t.add(pod("bare", false));
    await feed(t.diagnostics, [pullFailed(p), pullFailed(p), pullFailed(p)]);
    expect(t.cluster.warnings).toHaveLength(1);
    expect(t.cluster.warnings[0]?.reason).toBe(MISSING_PULL_SECRET_REASON);
    expect(t.cluster.warnings[0]?.message).toContain('Secret "team-a-pull" of mapping "team-a"');
    expect(t.missing).toEqual(["team-a"]);
    expect(t.cluster.deleted).toEqual([]);
    expect(t.diagnostics.snapshot().pods).toMatchObject([{ pod: "bare", action: "reported" }]);
  });

  it("leaves Pods with the copy, and namespaces no mapping selects, alone", async () => {
    const t = setup(true);
    const p = t.add(pod("fine", true, ["team-a-pull"]));
    await feed(t.diagnostics, [pullFailed(p), pullFailed(pod("elsewhere", true), "other")]);
    expect(t.cluster.warnings).toEqual([]);
    expect(t.cluster.deleted).toEqual([]);
  });

  it("leaves Pods of a namespace that opted out of every mapping alone", async () => {
    const t = setup(true);
    t.cluster.namespace = (name) =>
      Promise.resolve({
        name,
        labels: {},
        annotations: { "imagepullsecret-patcher.io/exclude": "true" },
        phase: "Active",
      });
    const p = t.add(pod("bare", true));
    await feed(t.diagnostics, [pullFailed(p)]);
    expect(t.cluster.warnings).toEqual([]);
    expect(t.cluster.deleted).toEqual([]);
  });

  it("deletes only controller-owned Pods, with the uid as precondition", async () => {
    const t = setup(true);
    const owned = t.add(pod("owned", true));
    const bare = t.add(pod("bare", false));
    await feed(t.diagnostics, [pullFailed(owned), pullFailed(bare)]);
    expect(t.cluster.deleted).toEqual([{ namespace: "team-x", name: "owned", uid: "uid-owned" }]);
    expect(t.deleted).toEqual(["team-a"]);
    expect(t.cluster.warnings.map((w) => w.pod).sort()).toEqual(["bare", "owned"]);
    const kept = t.diagnostics.snapshot().pods.find((f) => f.pod === "bare");
    expect(kept?.action).toBe("kept");
    expect(kept?.reason).toContain("no controller");
  });

  it("does not delete before the copy exists", async () => {
    const t = setup(true);
    t.cluster.secrets.clear();
    const owned = t.add(pod("owned", true));
    await feed(t.diagnostics, [pullFailed(owned)]);
    expect(t.cluster.deleted).toEqual([]);
    expect(t.diagnostics.snapshot().pods[0]?.reason).toContain("does not exist");
  });

  it("defers deletions beyond the rate limit, and retries on a later report", async () => {
    const t = setup(true, 1);
    const first = t.add(pod("first", true));
    const second = t.add(pod("second", true));
    await feed(t.diagnostics, [pullFailed(first), pullFailed(second)]);
    expect(t.cluster.deleted.map((r) => r.name)).toEqual(["first"]);
    expect(t.diagnostics.snapshot().pods.find((f) => f.pod === "second")?.action).toBe("deferred");
    t.advance(61_000);
    await feed(t.diagnostics, [pullFailed(second)]);
    expect(t.cluster.deleted.map((r) => r.name)).toEqual(["first", "second"]);
    expect(t.cluster.warnings).toHaveLength(2);
  });
});
