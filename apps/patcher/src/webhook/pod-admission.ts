import {
  reviewPod,
  selects,
  webhookLabelOf,
  type Logger,
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
    const mapping = this.#options.mappings().find((m) => webhookLabelOf(m.name) === mappingLabel);
    const mappingName = mapping?.name ?? mappingLabel;
    // reviewPod asks for copies only for a Pod CREATE; anything else stays "skipped".
    let result: ReviewResult = "skipped";
    const answer = await reviewPod(body, async (namespace) => {
      if (!mapping) return [];
      result = await this.#selects(mapping, namespace);
      return result === "present" ? [mapping.secretName] : [];
    });
    if (answer.status === 400) {
      this.#options.onReviewed?.(mappingName, "malformed");
      return { status: 400, body: { error: answer.error } };
    }
    if (answer.added.length > 0) result = "patched";
    this.#options.onReviewed?.(mappingName, result);
    if (result === "patched" && !answer.dryRun) this.#options.onPatched?.(answer.namespace, mappingName);
    this.#options.logger.debug({ mapping: mappingName, namespace: answer.namespace, result }, "pod admission");
    return { status: 200, body: answer.response };
  }

  /** "present" when the namespace is selected (the copy is due), else why not. */
  async #selects(mapping: AdmittingMapping, namespace: string): Promise<ReviewResult> {
    let view: NamespaceView | undefined;
    try {
      view = await this.#options.lookupNamespace(namespace);
    } catch (err) {
      this.#options.logger.warn(
        { mapping: mapping.name, namespace, error: err instanceof Error ? err.message : String(err) },
        "pod admission: cannot read the namespace; admitting the Pod unchanged",
      );
      return "lookup-failed";
    }
    return view && selects(mapping.selector, view) ? "present" : "not-selected";
  }
}
