import type { SelectorFactory } from "../plugins/contracts.js";
import { allSelectorFactory } from "./all.js";
import { annotationSelectorFactory } from "./annotation.js";
import { labelSelectorFactory } from "./label.js";
import { listSelectorFactory } from "./list.js";

export { AllNamespacesSelector, allSelectorFactory, type AllSelectorConfig } from "./all.js";
export {
  AnnotationNamespaceSelector,
  MAPPING_ANNOTATION,
  annotationSelectorFactory,
  mappingNamesIn,
  type AnnotationSelectorConfig,
} from "./annotation.js";
export { EXCLUDE_ANNOTATION, NamespaceExclusions, hasExcludeAnnotation, readExcludeList } from "./exclusions.js";
export { compileGlob, globMatches, hasWildcards, namespacePatternProblem, type Glob } from "./glob.js";
export {
  DNS1123_LABEL_MAX_LENGTH,
  DNS1123_SUBDOMAIN_MAX_LENGTH,
  LABEL_NAME_MAX_LENGTH,
  LABEL_VALUE_MAX_LENGTH,
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  labelKeyProblem,
  labelValueProblem,
} from "./k8s-names.js";
export { LabelNamespaceSelector, labelSelectorFactory, type LabelSelectorConfig } from "./label.js";
export {
  LabelSelectorError,
  STRUCTURED_OPERATORS,
  compileLabelSelector,
  formatRequirement,
  parseLabelSelector,
  requirementMatches,
  requirementsFromStructured,
  type CompiledLabelSelector,
  type Requirement,
  type RequirementOperator,
  type StructuredOperator,
  type StructuredRequirement,
  type StructuredSelector,
} from "./label-selector.js";
export { NamespaceListSelector, listSelectorFactory, type ListSelectorConfig } from "./list.js";
export { OPT_OUT_ANNOTATION, hasOptOutAnnotation, selects } from "./opt-out.js";
export { readLabelSelector, readSelectorFromConfigObject } from "./selector-config.js";

/** The namespace selectors core ships, for registering in a `PluginRegistry`. */
export const builtinSelectorFactories: readonly SelectorFactory[] = Object.freeze([
  allSelectorFactory,
  annotationSelectorFactory,
  labelSelectorFactory,
  listSelectorFactory,
]);
