import { ApiException, type V1Secret, type V1ServiceAccount } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parseDockerConfigJson } from "../credentials/docker-config.js";
import type { CachedSecret, CachedServiceAccount } from "../kube/views.js";
import { applyActions, StalePatchError, WriteRefusedError, type ClusterWriter } from "./apply.js";
import { INSTANCE_LABEL, MANAGED_BY_LABEL, MAPPING_LABEL } from "./ownership.js";

const credential = {
  credential: parseDockerConfigJson(
    JSON.stringify({ auths: { r: { auth: Buffer.from("u:p").toString("base64") } } }),
    "test",
  ),
  fetchedAt: new Date(0),
};
const target = { mappingName: "team-a", namespace: "ns1", secretName: "pull", instance: "default" };

/** Records every write; `fail` makes the next ServiceAccount patch throw. */
class RecordingWriter implements ClusterWriter {
  readonly calls: { op: string; body?: unknown }[] = [];
  fail: Error | undefined;
  createSecret(_ns: string, body: V1Secret): Promise<V1Secret> {
    this.calls.push({ op: "create", body });
    return Promise.resolve({ ...body, metadata: { ...body.metadata, resourceVersion: "11" } });
  }
  replaceSecret(_ns: string, _name: string, body: V1Secret): Promise<V1Secret> {
    this.calls.push({ op: "replace", body });
    return Promise.resolve({ ...body, metadata: { ...body.metadata, resourceVersion: "12" } });
  }
  deleteSecret(
    _ns: string,
    _name: string,
    preconditions: { uid: string; resourceVersion?: string | undefined },
  ): Promise<void> {
    this.calls.push({ op: "delete", body: preconditions });
    return Promise.resolve();
  }
  patchServiceAccount(_ns: string, _name: string, patch: object[]): Promise<V1ServiceAccount> {
    this.calls.push({ op: "patch", body: patch });
    if (this.fail) return Promise.reject(this.fail);
    return Promise.resolve({ metadata: { resourceVersion: "13" } });
  }
}

const adopted: CachedSecret = {
  namespace: "ns1",
  name: "pull",
  uid: "uid-1",
  resourceVersion: "10",
  type: "kubernetes.io/dockerconfigjson",
  labels: { [MANAGED_BY_LABEL]: "imagepullsecret-patcher", [MAPPING_LABEL]: "team-a", [INSTANCE_LABEL]: "default" },
  annotations: {},
  dataHash: "old",
  dataKeys: [".dockerconfigjson"],
  deleting: false,
  finalizers: ["example.com/keep"],
  ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: "owner-uid" }],
};

const sa: CachedServiceAccount = {
  namespace: "ns1",
  name: "default",
  uid: "sa",
  resourceVersion: "5",
  labels: {},
  annotations: {},
  imagePullSecrets: [],
};

const ctx = (
  writer: ClusterWriter,
  beforeWrite = (): Promise<void> => Promise.resolve(),
): Parameters<typeof applyActions>[0] => ({ writer, beforeWrite });

describe("applyActions", () => {
  it("keeps finalizers and ownerReferences when it updates a copy (an update replaces the whole object)", async () => {
    const writer = new RecordingWriter();
    await applyActions(
      ctx(writer),
      target,
      [{ type: "update-secret", resourceVersion: "10", adopt: true }],
      credential,
      adopted,
    );
    const body = writer.calls[0]?.body as V1Secret;
    expect(body.metadata?.finalizers).toEqual(["example.com/keep"]);
    expect(body.metadata?.ownerReferences).toEqual(adopted.ownerReferences);
    expect(body.metadata?.resourceVersion).toBe("10");
  });

  it("turns a 422 from a patch that could not be applied (stale cache) into a retryable error", async () => {
    const writer = new RecordingWriter();
    // What kube-apiserver answers for a failed `test` op or a missing path: empty details.
    writer.fail = new ApiException(
      422,
      "Unprocessable Entity",
      JSON.stringify({
        reason: "Invalid",
        message: "the server rejected our request due to an error in our request",
        details: {},
      }),
      {},
    );
    await expect(
      applyActions(ctx(writer), target, [{ type: "add-reference", serviceAccount: sa }], credential, undefined),
    ).rejects.toBeInstanceOf(StalePatchError);
  });

  it("keeps a real validation error (it names the object and the field) as it is", async () => {
    const writer = new RecordingWriter();
    const body = {
      reason: "Invalid",
      message: 'ServiceAccount "default" is invalid',
      details: { name: "default", kind: "ServiceAccount", causes: [{ field: "metadata.annotations" }] },
    };
    writer.fail = new ApiException(422, "Unprocessable Entity", JSON.stringify(body), {});
    const run = applyActions(
      ctx(writer),
      target,
      [{ type: "add-reference", serviceAccount: sa }],
      credential,
      undefined,
    );
    await expect(run).rejects.toBeInstanceOf(ApiException);
  });

  it("does not carry finalizers or ownerReferences onto a Secret re-created to change its type", async () => {
    const writer = new RecordingWriter();
    await applyActions(ctx(writer), target, [{ type: "recreate-secret", uid: "uid-1", adopt: true }], credential, {
      ...adopted,
      type: "Opaque",
    });
    const created = writer.calls.find((c) => c.op === "create")?.body as V1Secret;
    expect(created.metadata?.finalizers).toBeUndefined();
    expect(created.metadata?.ownerReferences).toBeUndefined();
  });

  it("reports each write with the version it returned and the one it was planned from", async () => {
    const writer = new RecordingWriter();
    const written = await applyActions(
      ctx(writer),
      target,
      [
        { type: "update-secret", resourceVersion: "10", adopt: false },
        { type: "add-reference", serviceAccount: sa },
      ],
      credential,
      adopted,
    );
    expect(written).toEqual([
      { cacheKey: "secret/ns1/pull", resourceVersion: "12", previousResourceVersion: "10" },
      { cacheKey: "sa/ns1/default", resourceVersion: "13", previousResourceVersion: "5" },
    ]);
  });

  it("reports a re-created Secret as deleted, then created, both planned from the old version", async () => {
    const writer = new RecordingWriter();
    const written = await applyActions(
      ctx(writer),
      target,
      [{ type: "recreate-secret", uid: "uid-1", adopt: false }],
      credential,
      { ...adopted, type: "Opaque" },
    );
    expect(written).toEqual([
      { cacheKey: "secret/ns1/pull", resourceVersion: "", previousResourceVersion: "10" },
      { cacheKey: "secret/ns1/pull", resourceVersion: "11", previousResourceVersion: "10" },
    ]);
    expect(writer.calls.map((c) => c.op)).toEqual(["delete", "create"]);
  });

  it("creates with no previous version, and deletes with uid and resourceVersion preconditions", async () => {
    const writer = new RecordingWriter();
    expect(
      await applyActions(ctx(writer), target, [{ type: "create-secret", adopt: false }], credential, undefined),
    ).toEqual([{ cacheKey: "secret/ns1/pull", resourceVersion: "11", previousResourceVersion: "" }]);
    const deleted = await applyActions(
      ctx(writer),
      target,
      [{ type: "delete-secret", uid: "uid-1", resourceVersion: "10" }],
      undefined,
      adopted,
    );
    expect(deleted).toEqual([{ cacheKey: "secret/ns1/pull", resourceVersion: "", previousResourceVersion: "10" }]);
    expect(writer.calls.at(-1)).toEqual({ op: "delete", body: { uid: "uid-1", resourceVersion: "10" } });
  });

  it("sends nothing once beforeWrite refuses (e.g. the leader lease was lost mid-plan)", async () => {
    const writer = new RecordingWriter();
    let allowed = 1;
    const gate = (): Promise<void> =>
      allowed-- > 0 ? Promise.resolve() : Promise.reject(new WriteRefusedError("not the leader"));
    const run = applyActions(
      ctx(writer, gate),
      target,
      [
        { type: "create-secret", adopt: false },
        { type: "add-reference", serviceAccount: sa },
      ],
      credential,
      undefined,
    );
    await expect(run).rejects.toBeInstanceOf(WriteRefusedError);
    expect(writer.calls.map((c) => c.op)).toEqual(["create"]);
  });
});
