import {
  type NamespaceView,
  type PluginContext,
  type SelectorFactory,
  type TargetSelector,
} from "../plugins/contracts.js";
import { EXCLUDE_ANNOTATION, NamespaceExclusions, readExcludeOnlyConfig } from "./exclusions.js";
import { hasOptOutAnnotation } from "./opt-out.js";

/**
 * Namespace annotation naming the mappings a namespace opts into, for mappings whose targets are
 * `annotation`: one mapping name, or several separated by commas (`team-a, shared`).
 */
export const MAPPING_ANNOTATION = "imagepullsecret-patcher.io/mapping";

/** Validated config of the `annotation` selector. */
export interface AnnotationSelectorConfig {
  /** Namespace names or globs never selected, whatever they are annotated with. */
  readonly exclude: readonly string[];
}

/** The mapping names listed in a {@link MAPPING_ANNOTATION} value: split at commas, trimmed, empty ones dropped. */
export function mappingNamesIn(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
}

/**
 * Selects the namespaces that ask for this mapping by name in {@link MAPPING_ANNOTATION}, except
 * those matching `exclude`, those annotated `k8s.titansoft.com/imagepullsecret-patcher-exclude:
 * "true"` and those that opted out with `imagepullsecret-patcher.io/exclude: "true"`.
 */
export class AnnotationNamespaceSelector implements TargetSelector {
  readonly description: string;
  /** The name namespaces write to opt in: the mapping's. */
  readonly mappingName: string;
  readonly #exclusions: NamespaceExclusions;

  constructor(config: AnnotationSelectorConfig, mappingName: string) {
    this.mappingName = mappingName;
    this.#exclusions = new NamespaceExclusions(config.exclude);
    this.description = `namespaces annotated ${MAPPING_ANNOTATION}: ${mappingName}${this.#exclusions.describeSuffix()}`;
  }

  matches(namespace: NamespaceView): boolean {
    if (hasOptOutAnnotation(namespace) || this.#exclusions.excludes(namespace)) return false;
    return mappingNamesIn(namespace.annotations[MAPPING_ANNOTATION]).includes(this.mappingName);
  }

  /** Undefined: the API server cannot select by annotation, so the webhook sees every namespace and decides itself. */
  namespaceSelector(): undefined {
    return undefined;
  }
}

/**
 * Factory of the `annotation` selector. Config: `{ exclude?: string[] }`; `{}`, `true`, `null` or
 * nothing mean no exclusion. The mapping must be named in config: its name is what namespaces write.
 */
export const annotationSelectorFactory: SelectorFactory<AnnotationSelectorConfig> = {
  type: "annotation",
  summary: `namespaces annotated ${MAPPING_ANNOTATION}: <mapping name> (a comma-separated list names several), minus \`exclude\` and namespaces annotated ${EXCLUDE_ANNOTATION}: "true"`,
  validate(config: unknown): AnnotationSelectorConfig {
    return readExcludeOnlyConfig(config);
  },
  create(config: AnnotationSelectorConfig, context: PluginContext): AnnotationNamespaceSelector {
    return new AnnotationNamespaceSelector(config, context.mappingName);
  },
};
