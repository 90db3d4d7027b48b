import {
  PluginConfigError,
  type PatchStrategy,
  type ServiceAccountView,
  type StrategyFactory,
} from "../plugins/contracts.js";
import { type CompiledLabelSelector, compileLabelSelector } from "../selectors/label-selector.js";
import { readLabelSelector, readSelectorFromConfigObject } from "../selectors/selector-config.js";
import { describeValue, isPlainObject } from "../selectors/validation.js";

/** Validated config of the `selector` strategy. */
export interface SelectorStrategyConfig {
  /** Canonical string form of the ServiceAccount label selector; `""` selects every ServiceAccount. */
  readonly selector: string;
}

/** Patches the ServiceAccounts whose labels match a Kubernetes label selector. */
export class LabelSelectorStrategy implements PatchStrategy {
  readonly description: string;
  /** Canonical selector string, usable as `labelSelector` when listing ServiceAccounts. */
  readonly labelSelector: string;
  readonly #selector: CompiledLabelSelector;

  /** @throws LabelSelectorError when `config.selector` is not a valid selector (validated configs never are). */
  constructor(config: SelectorStrategyConfig) {
    this.#selector = compileLabelSelector(config.selector);
    this.labelSelector = this.#selector.toString();
    this.description = this.#selector.isEmpty
      ? "all ServiceAccounts"
      : `ServiceAccounts matching ${JSON.stringify(this.labelSelector)}`;
  }

  selects(serviceAccount: ServiceAccountView): boolean {
    return this.#selector.matches(serviceAccount.labels);
  }
}

/**
 * Validates a `selector` strategy config: a selector string, the structured form
 * (`{ matchLabels?, matchExpressions? }`), or `{ selector: <either> }`.
 */
export function validateSelectorStrategyConfig(config: unknown): SelectorStrategyConfig {
  if (typeof config === "string") return { selector: readLabelSelector(config, "").toString() };
  if (!isPlainObject(config)) {
    throw new PluginConfigError(
      "",
      `expected a ServiceAccount label selector: "key=value", { matchLabels: {...}, matchExpressions: [...] } or { selector: ... }, got ${describeValue(config)}`,
    );
  }
  return { selector: readSelectorFromConfigObject(config, []).toString() };
}

/** Factory of the `selector` strategy. An empty selector selects every ServiceAccount. */
export const selectorStrategyFactory: StrategyFactory<SelectorStrategyConfig> = {
  type: "selector",
  summary: "the ServiceAccounts whose labels match a label selector (string or matchLabels/matchExpressions)",
  validate: validateSelectorStrategyConfig,
  create(config: SelectorStrategyConfig): LabelSelectorStrategy {
    return new LabelSelectorStrategy(config);
  },
};
