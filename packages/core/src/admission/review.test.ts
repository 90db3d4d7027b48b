import { describe, expect, it } from "vitest";
import type { JsonPatchOperation } from "./pod-patch.js";
import {
  admissionResponse,
  isReviewError,
  parseAdmissionReview,
  reviewPod,
  type AdmissionReviewResponse,
  type ParsedReview,
} from "./review.js";

type Json = Record<string, unknown>;

/** A Pod CREATE review as the API server sends it, with `request` fields overridden. */
function podCreate(request: Json = {}, pod: Json = { spec: { containers: [{ name: "app", image: "x" }] } }): Json {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      operation: "CREATE",
      namespace: "team-a",
      object: pod,
      dryRun: false,
      ...request,
    },
  };
}

function parsed(body: unknown): ParsedReview {
  const result = parseAdmissionReview(body);
  if (isReviewError(result)) throw new Error(`unexpected error: ${result.error}`);
  return result;
}

function errorOf(body: unknown): string {
  const result = parseAdmissionReview(body);
  if (!isReviewError(result)) throw new Error("expected an error");
  return result.error;
}

function decodedPatch(response: AdmissionReviewResponse): JsonPatchOperation[] | undefined {
  const patch = response.response.patch;
  return patch === undefined
    ? undefined
    : (JSON.parse(Buffer.from(patch, "base64").toString("utf8")) as JsonPatchOperation[]);
}

describe("parseAdmissionReview", () => {
  it("reads a Pod CREATE", () => {
    const review = parsed(podCreate({}, { spec: { imagePullSecrets: [{ name: "own" }, {}, { name: null }] } }));
    expect(review).toEqual({
      uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
      kind: { group: "", version: "v1", kind: "Pod" },
      operation: "CREATE",
      namespace: "team-a",
      dryRun: false,
      pod: { imagePullSecrets: [{ name: "own" }, {}, {}] },
    });
  });

  it("reads absent or null imagePullSecrets as undefined, and dryRun", () => {
    expect(parsed(podCreate({ dryRun: true })).pod).toEqual({ imagePullSecrets: undefined });
    expect(parsed(podCreate({ dryRun: true })).dryRun).toBe(true);
    expect(parsed(podCreate({ dryRun: undefined })).dryRun).toBe(false);
    expect(parsed(podCreate({}, { spec: { imagePullSecrets: null } })).pod).toEqual({ imagePullSecrets: undefined });
  });

  it("reads other kinds and operations without looking at the object", () => {
    const update = parsed(podCreate({ operation: "UPDATE", object: "not looked at" }));
    expect(update.pod).toBeUndefined();
    expect(update.operation).toBe("UPDATE");
    const node = parsed(podCreate({ kind: { group: "", version: "v1", kind: "Node" }, namespace: undefined }));
    expect(node.namespace).toBe("");
    expect(node.pod).toBeUndefined();
    const deployment = parsed(podCreate({ kind: { group: "apps", version: "v1", kind: "Deployment" } }));
    expect(deployment.pod).toBeUndefined();
  });

  it.each<[string, unknown, string]>([
    ["a non-object body", [], "body: expected an object, got array"],
    ["a null body", null, "body: expected an object, got null"],
    ["no body", undefined, "body: missing"],
    ["no apiVersion", { ...podCreate(), apiVersion: undefined }, "apiVersion: missing"],
    [
      "another apiVersion",
      { ...podCreate(), apiVersion: "admission.k8s.io/v1beta1" },
      'apiVersion: expected "admission.k8s.io/v1", got "admission.k8s.io/v1beta1"',
    ],
    ["a numeric apiVersion", { ...podCreate(), apiVersion: 1 }, "apiVersion: expected a string, got number"],
    ["another kind", { ...podCreate(), kind: "Review" }, 'kind: expected "AdmissionReview", got "Review"'],
    ["no request", { ...podCreate(), request: undefined }, "request: missing"],
    ["a string request", { ...podCreate(), request: "x" }, "request: expected an object, got string"],
    ["no uid", podCreate({ uid: undefined }), "request.uid: missing"],
    ["a numeric uid", podCreate({ uid: 7 }), "request.uid: expected a string, got number"],
    ["an empty uid", podCreate({ uid: "" }), "request.uid: must not be empty"],
    ["no kind", podCreate({ kind: undefined }), "request.kind: missing"],
    ["a string kind", podCreate({ kind: "Pod" }), "request.kind: expected an object, got string"],
    ["no group", podCreate({ kind: { version: "v1", kind: "Pod" } }), "request.kind.group: missing"],
    [
      "a null group",
      podCreate({ kind: { group: null, version: "v1", kind: "Pod" } }),
      "request.kind.group: expected a string, got null",
    ],
    [
      "an empty version",
      podCreate({ kind: { group: "", version: "", kind: "Pod" } }),
      "request.kind.version: must not be empty",
    ],
    ["no kind.kind", podCreate({ kind: { group: "", version: "v1" } }), "request.kind.kind: missing"],
    ["no operation", podCreate({ operation: undefined }), "request.operation: missing"],
    [
      "an unknown operation",
      podCreate({ operation: "PATCH" }),
      'request.operation: expected one of CREATE, UPDATE, DELETE, CONNECT, got "PATCH"',
    ],
    ["a string dryRun", podCreate({ dryRun: "true" }), "request.dryRun: expected a boolean, got string"],
    ["a Pod CREATE without namespace", podCreate({ namespace: undefined }), "request.namespace: missing"],
    ["a Pod CREATE with an empty namespace", podCreate({ namespace: "" }), "request.namespace: must not be empty"],
    [
      "a numeric namespace elsewhere",
      podCreate({ operation: "DELETE", namespace: 3 }),
      "request.namespace: expected a string, got number",
    ],
    ["a Pod CREATE without object", podCreate({ object: undefined }), "request.object: missing"],
    ["a Pod CREATE with a null object", podCreate({ object: null }), "request.object: expected an object, got null"],
    ["a Pod without spec", podCreate({}, { metadata: {} }), "request.object.spec: missing"],
    [
      "imagePullSecrets as an object",
      podCreate({}, { spec: { imagePullSecrets: { name: "x" } } }),
      "request.object.spec.imagePullSecrets: expected an array, got object",
    ],
    [
      "an imagePullSecrets entry as a string",
      podCreate({}, { spec: { imagePullSecrets: [{ name: "a" }, "b"] } }),
      "request.object.spec.imagePullSecrets[1]: expected an object, got string",
    ],
    [
      "a numeric imagePullSecrets name",
      podCreate({}, { spec: { imagePullSecrets: [{ name: 5 }] } }),
      "request.object.spec.imagePullSecrets[0].name: expected a string, got number",
    ],
  ])("refuses %s, naming the field", (_name, body, error) => {
    expect(errorOf(body)).toBe(error);
  });

  it("never quotes request data in an error", () => {
    const secretish = "c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhaw==";
    expect(errorOf(podCreate({ uid: { token: secretish } }))).not.toContain(secretish);
    expect(errorOf(podCreate({ namespace: [secretish] }))).not.toContain(secretish);
    expect(errorOf(podCreate({}, { spec: { imagePullSecrets: [{ name: [secretish] }] } }))).not.toContain(secretish);
  });

  it("quotes at most 64 characters of a wrong protocol word", () => {
    const error = errorOf({ ...podCreate(), apiVersion: "v".repeat(500) });
    expect(error).toBe(`apiVersion: expected "admission.k8s.io/v1", got "${"v".repeat(64)}"`);
  });
});

describe("admissionResponse", () => {
  it("allows without a patch when there is nothing to patch", () => {
    expect(admissionResponse("u1", [])).toEqual({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: "u1", allowed: true },
    });
  });

  it("encodes the patch as base64 JSON with patchType JSONPatch", () => {
    const patch: JsonPatchOperation[] = [{ op: "add", path: "/spec/imagePullSecrets/-", value: { name: "regcred" } }];
    const response = admissionResponse("u2", patch);
    expect(response.response).toMatchObject({ uid: "u2", allowed: true, patchType: "JSONPatch" });
    expect(response.response.patch).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(decodedPatch(response)).toEqual(patch);
  });

  it("includes warnings only when there are some", () => {
    expect(admissionResponse("u3", [], ["slow"]).response.warnings).toEqual(["slow"]);
    expect(admissionResponse("u3", [], []).response).not.toHaveProperty("warnings");
  });

  it("is plain JSON", () => {
    const response = admissionResponse("u4", [{ op: "add", path: "/spec/imagePullSecrets", value: [{ name: "a" }] }]);
    expect(JSON.parse(JSON.stringify(response))).toEqual(response);
  });
});

describe("reviewPod", () => {
  const copies = (namespace: string) => (namespace === "team-a" ? ["regcred", "mirror"] : []);

  it("adds the missing copies to a Pod without imagePullSecrets", async () => {
    const result = await reviewPod(podCreate(), copies);
    expect(result).toMatchObject({ status: 200, namespace: "team-a", added: ["regcred", "mirror"], dryRun: false });
    if (result.status !== 200) throw new Error("expected 200");
    expect(result.response.response.uid).toBe("705ab4f5-6393-11e8-b7cc-42010a800002");
    expect(decodedPatch(result.response)).toEqual([
      { op: "add", path: "/spec/imagePullSecrets", value: [{ name: "regcred" }, { name: "mirror" }] },
    ]);
  });

  it("appends only what the Pod lacks", async () => {
    const result = await reviewPod(
      podCreate({ dryRun: true }, { spec: { imagePullSecrets: [{ name: "mirror" }] } }),
      copies,
    );
    expect(result).toMatchObject({ status: 200, added: ["regcred"], dryRun: true });
    if (result.status !== 200) throw new Error("expected 200");
    expect(decodedPatch(result.response)).toEqual([
      { op: "add", path: "/spec/imagePullSecrets/-", value: { name: "regcred" } },
    ]);
  });

  it("allows without a patch when the Pod has everything or the namespace wants nothing", async () => {
    const complete = await reviewPod(
      podCreate({}, { spec: { imagePullSecrets: [{ name: "mirror" }, { name: "regcred" }] } }),
      copies,
    );
    expect(complete).toMatchObject({ status: 200, added: [] });
    if (complete.status === 200)
      expect(complete.response.response).toEqual({ uid: "705ab4f5-6393-11e8-b7cc-42010a800002", allowed: true });
    expect(await reviewPod(podCreate({ namespace: "other" }), copies)).toMatchObject({
      status: 200,
      namespace: "other",
      added: [],
    });
  });

  it("allows other kinds and operations untouched, without asking for copies", async () => {
    const asked: string[] = [];
    const spy = (namespace: string) => {
      asked.push(namespace);
      return ["regcred"];
    };
    const update = await reviewPod(podCreate({ operation: "UPDATE" }), spy);
    const secret = await reviewPod(podCreate({ kind: { group: "", version: "v1", kind: "Secret" } }), spy);
    for (const result of [update, secret]) {
      expect(result).toMatchObject({ status: 200, namespace: "team-a", added: [] });
      if (result.status === 200) expect(result.response.response).not.toHaveProperty("patch");
    }
    expect(asked).toEqual([]);
  });

  it("answers a malformed review with 400 and the error", async () => {
    expect(await reviewPod(podCreate({ uid: undefined }), copies)).toEqual({
      status: 400,
      error: "request.uid: missing",
    });
    expect(await reviewPod("{}", copies)).toEqual({ status: 400, error: "body: expected an object, got string" });
  });

  it("lets an error of copiesFor propagate", async () => {
    const failing = () => {
      throw new Error("mappings not ready");
    };
    await expect(reviewPod(podCreate(), failing)).rejects.toThrow("mappings not ready");
  });
});
