// How a mapping is named in the Pod webhook: the webhook entry's name and the HTTP path the API
// server calls. The server that answers reviews routes by the same functions.
import { DNS1123_LABEL_MAX_LENGTH, dns1123LabelProblem } from "../selectors/k8s-names.js";

/** Suffix of every webhook entry's name; with the mapping's label in front it is a fully qualified name. */
export const WEBHOOK_NAME_SUFFIX = "pods.imagepullsecret-patcher.io";
/** Path prefix of the Pod webhook; the mapping's label follows it. */
export const WEBHOOK_PATH_PREFIX = "/mutate-pods/";

/** A configuration of the webhook that cannot be built; `path` points at the offending option. */
export class WebhookConfigurationError extends Error {
  override readonly name = "WebhookConfigurationError";
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(path ? `${path}: ${problem}` : problem);
  }
}

/**
 * The DNS label a mapping goes by in the webhook: lowercase, runs of characters other than `a-z`,
 * `0-9` and `-` turned into one `-`, no `-` at either end. Mapping names from config are labels
 * already and come back unchanged.
 *
 * @throws {WebhookConfigurationError} naming the mapping when nothing usable is left or the label is too long.
 */
export function webhookLabelOf(mappingName: string): string {
  const label = mappingName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  const at = `mapping ${JSON.stringify(mappingName)}`;
  if (label === "") {
    throw new WebhookConfigurationError(at, "its name has no letter or digit to make the webhook's DNS label from");
  }
  if (label.length > DNS1123_LABEL_MAX_LENGTH) {
    throw new WebhookConfigurationError(
      at,
      `its name makes a DNS label of ${label.length} characters; the webhook's name allows at most ${DNS1123_LABEL_MAX_LENGTH}`,
    );
  }
  return label;
}

/** `<label>.pods.imagepullsecret-patcher.io`: the name of the mapping's webhook entry. */
export function webhookNameOf(mappingName: string): string {
  return `${webhookLabelOf(mappingName)}.${WEBHOOK_NAME_SUFFIX}`;
}

/** `/mutate-pods/<label>`: the path the API server calls for the mapping. */
export function webhookPathOf(mappingName: string): string {
  return `${WEBHOOK_PATH_PREFIX}${webhookLabelOf(mappingName)}`;
}

/**
 * The label in a request path that ends in `/mutate-pods/<label>` (after any base path; the query is
 * ignored), or undefined for any other path. Compare it with {@link webhookLabelOf} of each mapping
 * to route the request.
 */
export function webhookLabelInPath(path: string): string | undefined {
  const pathname = path.split("?", 1)[0] ?? "";
  const at = pathname.lastIndexOf(WEBHOOK_PATH_PREFIX);
  if (at < 0) return undefined;
  const label = pathname.slice(at + WEBHOOK_PATH_PREFIX.length);
  return dns1123LabelProblem(label) === undefined ? label : undefined;
}
