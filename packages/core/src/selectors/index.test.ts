import { describe, expect, it } from "vitest";
import type { SelectorFactory } from "../plugins/contracts.js";
import { PluginRegistry } from "../plugins/registry.js";
import * as selectors from "./index.js";

describe("selectors index", () => {
  it("ships all, annotation, label and list, registrable without clashes", () => {
    const registry = new PluginRegistry<SelectorFactory>("selector");
    for (const factory of selectors.builtinSelectorFactories) registry.register(factory);
    expect(registry.types()).toEqual(["all", "annotation", "label", "list"]);
    for (const factory of selectors.builtinSelectorFactories) expect(factory.summary.length).toBeGreaterThan(10);
  });

  it("exports the public API", () => {
    for (const name of [
      "compileLabelSelector",
      "parseLabelSelector",
      "requirementsFromStructured",
      "LabelSelectorError",
      "compileGlob",
      "globMatches",
      "EXCLUDE_ANNOTATION",
      "AllNamespacesSelector",
      "LabelNamespaceSelector",
      "NamespaceListSelector",
      "allSelectorFactory",
      "labelSelectorFactory",
      "listSelectorFactory",
      "AnnotationNamespaceSelector",
      "annotationSelectorFactory",
      "MAPPING_ANNOTATION",
      "OPT_OUT_ANNOTATION",
      "hasOptOutAnnotation",
      "selects",
    ]) {
      expect(selectors).toHaveProperty(name);
    }
  });
});
