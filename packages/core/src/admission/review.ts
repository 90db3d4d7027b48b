// The `admission.k8s.io/v1` AdmissionReview of the Pod webhook: reading a request and writing the
// answer. This webhook never denies: it runs with failurePolicy Ignore, and its only job is to add
// the registry credentials a Pod is missing. Pure: no I/O, no clock.
import {
  imagePullSecretsPatch,
  missingPullSecrets,
  type ImagePullSecretRef,
  type JsonPatchOperation,
} from "./pod-patch.js";
import {
  ReviewFieldError,
  readObject,
  readOneOf,
  readOptionalArray,
  readOptionalBoolean,
  readOptionalString,
  readString,
  type JsonObject,
} from "./review-fields.js";

/** The only AdmissionReview version the webhook speaks (its configuration asks for it alone). */
export const ADMISSION_REVIEW_API_VERSION = "admission.k8s.io/v1";

/** What an admission request does to its object. */
export type AdmissionOperation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
const OPERATIONS: readonly AdmissionOperation[] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];

/** `request.kind` of an AdmissionReview; the core group is `""`. */
export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** The parts of an AdmissionReview request the webhook uses. */
export interface ParsedReview {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly operation: AdmissionOperation;
  /** `""` when the request has none (cluster-scoped objects). */
  readonly namespace: string;
  readonly dryRun: boolean;
  /**
   * Set only for the creation of a core v1 Pod: its `spec.imagePullSecrets` as sent, undefined when
   * the field is absent. Other requests are answered without a patch.
   */
  readonly pod?: { readonly imagePullSecrets: readonly ImagePullSecretRef[] | undefined } | undefined;
}

/** Why a body is not an AdmissionReview the webhook can answer; `error` names the field. */
export interface ReviewError {
  readonly error: string;
}

/** The AdmissionReview sent back to the API server. */
export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_REVIEW_API_VERSION;
  readonly kind: "AdmissionReview";
  readonly response: {
    readonly uid: string;
    readonly allowed: true;
    readonly patchType?: "JSONPatch";
    /** Base64 of the JSON patch. */
    readonly patch?: string;
    readonly warnings?: readonly string[];
  };
}

/** What {@link reviewPod} answers: the review to send with HTTP 200, or HTTP 400 and why. */
export type PodReviewResult =
  | {
      readonly status: 200;
      readonly response: AdmissionReviewResponse;
      /** The request's namespace, `""` when it has none. */
      readonly namespace: string;
      /** Copies the patch adds to the Pod, in order; empty when nothing is patched. */
      readonly added: readonly string[];
      readonly dryRun: boolean;
    }
  | { readonly status: 400; readonly error: string };

/** Whether {@link parseAdmissionReview} refused the body. */
export function isReviewError(value: ParsedReview | ReviewError): value is ReviewError {
  return "error" in value;
}

function isPodCreate(kind: GroupVersionKind, operation: AdmissionOperation): boolean {
  return kind.group === "" && kind.version === "v1" && kind.kind === "Pod" && operation === "CREATE";
}

function readKind(value: unknown): GroupVersionKind {
  const kind = readObject(value, "request.kind");
  return {
    group: readString(kind["group"], "request.kind.group", true),
    version: readString(kind["version"], "request.kind.version"),
    kind: readString(kind["kind"], "request.kind.kind"),
  };
}

function readPullSecretRef(entry: JsonObject, path: string): ImagePullSecretRef {
  const name = entry["name"];
  return name === undefined || name === null ? {} : { name: readString(name, `${path}.name`, true) };
}

function readPod(request: JsonObject): NonNullable<ParsedReview["pod"]> {
  const spec = readObject(readObject(request["object"], "request.object")["spec"], "request.object.spec");
  const path = "request.object.spec.imagePullSecrets";
  return { imagePullSecrets: readOptionalArray(spec["imagePullSecrets"], path, readPullSecretRef) };
}

function readRequest(body: unknown): ParsedReview {
  const review = readObject(body, "body");
  readOneOf(review["apiVersion"], "apiVersion", [ADMISSION_REVIEW_API_VERSION]);
  readOneOf(review["kind"], "kind", ["AdmissionReview"]);
  const request = readObject(review["request"], "request");
  const uid = readString(request["uid"], "request.uid");
  const kind = readKind(request["kind"]);
  const operation = readOneOf(request["operation"], "request.operation", OPERATIONS);
  const dryRun = readOptionalBoolean(request["dryRun"], "request.dryRun");
  if (!isPodCreate(kind, operation)) {
    return { uid, kind, operation, namespace: readOptionalString(request["namespace"], "request.namespace"), dryRun };
  }
  // A Pod is namespaced: a Pod CREATE without a namespace is not one the API server sent.
  const namespace = readString(request["namespace"], "request.namespace");
  return { uid, kind, operation, namespace, dryRun, pod: readPod(request) };
}

/**
 * Reads an `admission.k8s.io/v1` AdmissionReview request (the parsed JSON body). A Pod CREATE must
 * carry a namespace and an object with a `spec`; other kinds and operations are read only far enough
 * to be answered. The error names the field, like `request.uid: missing`.
 */
export function parseAdmissionReview(body: unknown): ParsedReview | ReviewError {
  try {
    return readRequest(body);
  } catch (error) {
    if (error instanceof ReviewFieldError) return { error: error.message };
    throw error;
  }
}

/**
 * The AdmissionReview that answers request `uid`: always allowed, with `patch` (base64 JSON) and
 * `patchType` only when there is something to patch, and `warnings` only when there are some.
 */
export function admissionResponse(
  uid: string,
  patch: readonly JsonPatchOperation[],
  warnings: readonly string[] = [],
): AdmissionReviewResponse {
  const patched = patch.length
    ? { patchType: "JSONPatch" as const, patch: Buffer.from(JSON.stringify(patch), "utf8").toString("base64") }
    : {};
  return {
    apiVersion: ADMISSION_REVIEW_API_VERSION,
    kind: "AdmissionReview",
    response: { uid, allowed: true, ...patched, ...(warnings.length ? { warnings: [...warnings] } : {}) },
  };
}

/**
 * Answers one review: a Pod CREATE gets the copies `copiesFor(namespace)` names that it lacks;
 * anything else is allowed untouched. A malformed review is a 400 whose error names the field, and
 * the API server then applies the webhook's failurePolicy (Ignore). Dry runs are patched like real
 * creates: the patch has no side effect, and the caller sees what the Pod would get.
 * `copiesFor` may look the namespace up; its errors propagate.
 */
export async function reviewPod(
  body: unknown,
  copiesFor: (namespace: string) => readonly string[] | Promise<readonly string[]>,
): Promise<PodReviewResult> {
  const review = parseAdmissionReview(body);
  if (isReviewError(review)) return { status: 400, error: review.error };
  const { uid, namespace, dryRun, pod } = review;
  const added = pod ? missingPullSecrets(pod.imagePullSecrets, await copiesFor(namespace)) : [];
  const patch = pod ? imagePullSecretsPatch(pod.imagePullSecrets, added) : [];
  return { status: 200, response: admissionResponse(uid, patch), namespace, added, dryRun };
}
