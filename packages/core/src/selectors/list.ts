import {
  PluginConfigError,
  type LabelSelector,
  type NamespaceView,
  type SelectorFactory,
  type TargetSelector,
} from "../plugins/contracts.js";
import { hasWildcards } from "./glob.js";
import { dns1123LabelProblem } from "./k8s-names.js";
import { namespaceNamesIn } from "./namespace-selector.js";
import { describeValue, isPlainObject, readStringList, refuseUnknownKeys } from "./validation.js";

/** Validated config of the `list` selector. */
export interface ListSelectorConfig {
  /** Namespace names, as written (order kept for descriptions). */
  readonly namespaces: readonly string[];
}

function namespaceNameProblem(name: string): string | undefined {
  if (hasWildcards(name)) {
    return `${JSON.stringify(name)} is a glob; list takes exact namespace names (use the all or label selector with exclude for patterns)`;
  }
  const problem = dns1123LabelProblem(name);
  return problem ? `${JSON.stringify(name)} is not a valid namespace name: ${problem}` : undefined;
}

/**
 * Selects exactly the listed namespaces. The exclude annotation is not consulted: listing a namespace
 * by name is an explicit decision by whoever writes the config.
 */
export class NamespaceListSelector implements TargetSelector {
  readonly description: string;
  readonly namespaces: readonly string[];
  readonly #names: ReadonlySet<string>;

  constructor(config: ListSelectorConfig) {
    this.namespaces = Object.freeze([...config.namespaces]);
    this.#names = new Set(this.namespaces);
    this.description = `namespaces ${this.namespaces.join(", ")}`;
  }

  matches(namespace: NamespaceView): boolean {
    return this.#names.has(namespace.name);
  }

  /** Exactly the listed names, by the `kubernetes.io/metadata.name` label. */
  namespaceSelector(): LabelSelector {
    return { matchExpressions: [namespaceNamesIn(this.namespaces)] };
  }
}

/** Factory of the `list` selector. Config: `{ namespaces: string[] }`, valid and distinct names, at least one. */
export const listSelectorFactory: SelectorFactory<ListSelectorConfig> = {
  type: "list",
  summary: "exactly the namespaces named in `namespaces`",
  validate(config: unknown): ListSelectorConfig {
    if (!isPlainObject(config)) {
      throw new PluginConfigError(
        "",
        `expected an object like { namespaces: [team-a, team-b] }, got ${describeValue(config)}`,
      );
    }
    refuseUnknownKeys(config, ["namespaces"], "");
    if (config["namespaces"] === undefined || config["namespaces"] === null) {
      throw new PluginConfigError("namespaces", "is required");
    }
    const namespaces = readStringList(config["namespaces"], "namespaces", {
      emptyProblem: "must list at least one namespace",
      check: namespaceNameProblem,
      refuseDuplicates: true,
    });
    return { namespaces };
  },
  create(config: ListSelectorConfig): NamespaceListSelector {
    return new NamespaceListSelector(config);
  },
};
