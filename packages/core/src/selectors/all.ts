import {
  type LabelSelector,
  type NamespaceView,
  type SelectorFactory,
  type TargetSelector,
} from "../plugins/contracts.js";
import { EXCLUDE_ANNOTATION, NamespaceExclusions, readExcludeOnlyConfig } from "./exclusions.js";
import { namespaceNamesNotIn } from "./namespace-selector.js";

/** Validated config of the `all` selector. */
export interface AllSelectorConfig {
  /** Namespace names or globs never selected. */
  readonly exclude: readonly string[];
}

/**
 * Selects every namespace except those matching `exclude` and those annotated
 * `k8s.titansoft.com/imagepullsecret-patcher-exclude: "true"`.
 */
export class AllNamespacesSelector implements TargetSelector {
  readonly description: string;
  readonly #exclusions: NamespaceExclusions;

  constructor(config: AllSelectorConfig) {
    this.#exclusions = new NamespaceExclusions(config.exclude);
    this.description = `all namespaces${this.#exclusions.describeSuffix()}`;
  }

  matches(namespace: NamespaceView): boolean {
    return !this.#exclusions.excludes(namespace);
  }

  /** Every namespace but the exact names in `exclude`; globs and the exclude annotation are left to `matches`. */
  namespaceSelector(): LabelSelector {
    const notIn = namespaceNamesNotIn(this.#exclusions.patterns);
    return notIn ? { matchExpressions: [notIn] } : {};
  }
}

/**
 * Factory of the `all` selector. Config: `{ exclude?: string[] }`; `{}`, `true`, `null` or nothing
 * mean no exclusion.
 */
export const allSelectorFactory: SelectorFactory<AllSelectorConfig> = {
  type: "all",
  summary: `every namespace, minus \`exclude\` names/globs and namespaces annotated ${EXCLUDE_ANNOTATION}: "true"`,
  validate(config: unknown): AllSelectorConfig {
    return readExcludeOnlyConfig(config);
  },
  create(config: AllSelectorConfig): AllNamespacesSelector {
    return new AllNamespacesSelector(config);
  },
};
