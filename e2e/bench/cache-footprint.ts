// Bytes the engine's cache holds per Namespace and per ServiceAccount, next to what keeping the
// objects as the API server sends them (client-node's informer does) would cost. Objects are shaped
// like a real list response: managedFields, a uid, labels, and for half of them kubectl's
// last-applied annotation.
//
//   node --expose-gc e2e/bench/cache-footprint.ts [N]
//
// Needs `pnpm exec turbo run build` first (it reads core's compiled views).
import type { V1ManagedFieldsEntry, V1Namespace, V1ServiceAccount } from "@kubernetes/client-node";
import { randomUUID } from "node:crypto";
import { namespaceView, serviceAccountView } from "../../packages/core/dist/kube/views.js";

const N = Number(process.argv[2] ?? 10_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

const managedFields = (manager: string): V1ManagedFieldsEntry[] => [
  {
    manager,
    operation: "Update",
    apiVersion: "v1",
    time: new Date(),
    fieldsType: "FieldsV1",
    fieldsV1: { "f:metadata": { "f:labels": { ".": {}, "f:kubernetes.io/metadata.name": {} } } },
  },
];

function rawNamespace(i: number): V1Namespace {
  const name = `team-${i.toString().padStart(5, "0")}`;
  const applied = i % 2 === 0;
  return {
    metadata: {
      name,
      uid: randomUUID(),
      resourceVersion: String(100_000 + i),
      creationTimestamp: new Date(),
      labels: { "kubernetes.io/metadata.name": name, team: `t${i % 50}` },
      ...(applied
        ? {
            annotations: {
              "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({
                apiVersion: "v1",
                kind: "Namespace",
                metadata: { annotations: {}, labels: { team: `t${i % 50}` }, name },
              }),
            },
          }
        : {}),
      managedFields: managedFields(applied ? "kubectl-client-side-apply" : "kubectl-create"),
    },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}

function rawServiceAccount(i: number): V1ServiceAccount {
  const namespace = `team-${i.toString().padStart(5, "0")}`;
  return {
    metadata: {
      name: "default",
      namespace,
      uid: randomUUID(),
      resourceVersion: String(200_000 + i),
      creationTimestamp: new Date(),
      managedFields: managedFields("kube-controller-manager"),
    },
    imagePullSecrets: [{ name: "regcred" }],
  };
}

/** Heap growth, after full collections, from holding what `make` returns for every i < N. */
function heapPerObject<T>(make: (i: number) => T): number {
  gc?.();
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const held = new Map<string, T>();
  for (let i = 0; i < N; i++) held.set(`team-${i}/default`, make(i));
  gc?.();
  gc?.();
  const after = process.memoryUsage().heapUsed;
  if (held.size !== N) throw new Error("lost objects");
  return Math.round((after - before) / N);
}

const rows = [
  ["Namespace, as sent (informer)", heapPerObject(rawNamespace)],
  ["Namespace, engine view", heapPerObject((i) => namespaceView(rawNamespace(i)))],
  ["ServiceAccount, as sent (informer)", heapPerObject(rawServiceAccount)],
  ["ServiceAccount, engine view", heapPerObject((i) => serviceAccountView(rawServiceAccount(i)))],
] as const;
console.log(`N = ${N}, Node ${process.version}; bytes of heap per cached object (map entry included)`);
for (const [what, bytes] of rows) console.log(`${what.padEnd(36)} ${String(bytes).padStart(6)} B`);
