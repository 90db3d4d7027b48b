import {
  admissionResponse,
  imagePullSecretsPatch,
  isReviewError,
  webhookLabelOf,
  parseAdmissionReview,
  type JsonPatchOperation,
  type Logger,
  type ParsedReview,
  type NamespaceView,
  type TargetSelector,
} from "@imagepullsecret-patcher/core";

/** What the webhook needs of a mapping with `podAdmission: true`. */
export interface AdmittingMapping {
  readonly name: string;
  readonly secretName: string;
  readonly selector: TargetSelector;
}

/** How one review ended, for the metric and the debug log. */
export type ReviewResult = "patched" | "present" | "not-selected" | "skipped" | "lookup-failed" | "malformed";

export interface PodAdmissionOptions {
  /** The mappings that admit Pods, as the latest applied config says. */
  mappings: () => readonly AdmittingMapping[];
  lookupNamespace: (name: string) => Promise<NamespaceView | undefined>;
  /** Told when a Pod got the copy, so the copy itself is made at once (the leader's engine). */
  onPatched?: ((namespace: string, mapping: string) => void) | undefined;
  onReviewed?: ((mapping: string, result: ReviewResult) => void) | undefined;
  logger: Logger;
}

/**
 * Answers AdmissionReviews for Pod CREATE: adds the mapping's copy to `spec.imagePullSecrets` when the
 * Pod's namespace is selected and the Pod does not name it. Never denies: the worst outcome of any
 * failure here is a Pod admitted as it was, which the ServiceAccount path still covers.
 */
export class PodAdmission {
  readonly #options: PodAdmissionOptions;

  constructor(options: PodAdmissionOptions) {
    this.#options = options;
  }

  /** `mappingLabel`: the mapping's webhook label, from the request path. */
  async review(mappingLabel: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const mappingName =
      this.#options.mappings().find((m) => webhookLabelOf(m.name) === mappingLabel)?.name ?? mappingLabel;
    const parsed = parseAdmissionReview(body);
    if (isReviewError(parsed)) {
      this.#options.onReviewed?.(mappingName, "malformed");
      return { status: 400, body: { error: parsed.error } };
    }
    const { result, patch } = await this.#decide(mappingName, parsed);
    this.#options.onReviewed?.(mappingName, result);
    if (result === "patched" && !parsed.dryRun) this.#options.onPatched?.(parsed.namespace, mappingName);
    this.#options.logger.debug({ mapping: mappingName, namespace: parsed.namespace, result }, "pod admission");
    return { status: 200, body: admissionResponse(parsed.uid, patch) };
  }

  async #decide(
    mappingName: string,
    review: ParsedReview,
  ): Promise<{ result: ReviewResult; patch: JsonPatchOperation[] }> {
    const mapping = this.#options.mappings().find((m) => m.name === mappingName);
    // `pod` is set for a core v1 Pod CREATE only.
    if (!mapping || !review.pod) return { result: "skipped", patch: [] };
    let namespace: NamespaceView | undefined;
    try {
      namespace = await this.#options.lookupNamespace(review.namespace);
    } catch (err) {
      this.#options.logger.warn(
        { mapping: mappingName, namespace: review.namespace, error: err instanceof Error ? err.message : String(err) },
        "pod admission: cannot read the namespace; admitting the Pod unchanged",
      );
      return { result: "lookup-failed", patch: [] };
    }
    if (!namespace || !mapping.selector.matches(namespace)) return { result: "not-selected", patch: [] };
    const patch = imagePullSecretsPatch(review.pod.imagePullSecrets, [mapping.secretName]);
    return { result: patch.length > 0 ? "patched" : "present", patch };
  }
}
