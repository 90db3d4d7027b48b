import {
  PluginConfigError,
  type LabelSelector,
  type NamespaceView,
  type SelectorFactory,
  type TargetSelector,
} from "../plugins/contracts.js";
import { EXCLUDE_ANNOTATION, NamespaceExclusions, readExcludeList } from "./exclusions.js";
import { type CompiledLabelSelector, compileLabelSelector } from "./label-selector.js";
import { labelSelectorOf, namespaceNamesNotIn } from "./namespace-selector.js";
import { readLabelSelector, readSelectorFromConfigObject } from "./selector-config.js";
import { describeValue, isPlainObject } from "./validation.js";

/** Validated config of the `label` selector. */
export interface LabelSelectorConfig {
  /** Canonical string form of the namespace label selector; `""` selects every namespace. */
  readonly selector: string;
  /** Namespace names or globs never selected, whatever their labels. */
  readonly exclude: readonly string[];
}

/**
 * Selects namespaces whose labels match a Kubernetes label selector, except those matching `exclude`
 * and those annotated `k8s.titansoft.com/imagepullsecret-patcher-exclude: "true"`.
 */
export class LabelNamespaceSelector implements TargetSelector {
  readonly description: string;
  /**
   * The canonical selector string. The engine may pass it as `labelSelector` when listing or
   * watching namespaces so the API server filters; `matches` stays the authority.
   */
  readonly labelSelector: string;
  readonly #selector: CompiledLabelSelector;
  readonly #exclusions: NamespaceExclusions;

  /** @throws LabelSelectorError when `config.selector` is not a valid selector (validated configs never are). */
  constructor(config: LabelSelectorConfig) {
    this.#selector = compileLabelSelector(config.selector);
    this.#exclusions = new NamespaceExclusions(config.exclude);
    this.labelSelector = this.#selector.toString();
    const what = this.#selector.isEmpty
      ? "all namespaces"
      : `namespaces matching ${JSON.stringify(this.labelSelector)}`;
    this.description = `${what}${this.#exclusions.describeSuffix()}`;
  }

  matches(namespace: NamespaceView): boolean {
    return this.#selector.matches(namespace.labels) && !this.#exclusions.excludes(namespace);
  }

  /**
   * The label requirements (`>`/`<` left out: the structured form cannot say them) and the exact
   * names in `exclude`; globs and the exclude annotation are left to `matches`.
   */
  namespaceSelector(): LabelSelector {
    return labelSelectorOf(this.#selector.requirements, [namespaceNamesNotIn(this.#exclusions.patterns)]);
  }
}

/**
 * Factory of the `label` selector. Config is one of:
 * - the structured form: `{ matchLabels?, matchExpressions?, exclude? }`;
 * - `{ selector: "env=prod,team in (a,b)", exclude? }` (or `selector` holding the structured form);
 * - a bare selector string.
 *
 * An empty selector (`{}`, `""`) selects every namespace, as an empty LabelSelector does in Kubernetes.
 */
export const labelSelectorFactory: SelectorFactory<LabelSelectorConfig> = {
  type: "label",
  summary: `namespaces matching a label selector (matchLabels/matchExpressions or "key=value" syntax), minus \`exclude\` and namespaces annotated ${EXCLUDE_ANNOTATION}: "true"`,
  validate(config: unknown): LabelSelectorConfig {
    if (typeof config === "string") return { selector: readLabelSelector(config, "").toString(), exclude: [] };
    if (!isPlainObject(config)) {
      throw new PluginConfigError(
        "",
        `expected a label selector: { matchLabels: {...}, matchExpressions: [...] } or { selector: "key=value" }, got ${describeValue(config)}`,
      );
    }
    const selector = readSelectorFromConfigObject(config, ["exclude"]);
    return { selector: selector.toString(), exclude: readExcludeList(config["exclude"]) };
  },
  create(config: LabelSelectorConfig): LabelNamespaceSelector {
    return new LabelNamespaceSelector(config);
  },
};
