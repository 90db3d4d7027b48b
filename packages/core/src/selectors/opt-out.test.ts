import { describe, expect, it } from "vitest";
import type { NamespaceView, TargetSelector } from "../plugins/contracts.js";
import { allSelectorFactory } from "./all.js";
import { EXCLUDE_ANNOTATION } from "./exclusions.js";
import { labelSelectorFactory } from "./label.js";
import { listSelectorFactory } from "./list.js";
import { OPT_OUT_ANNOTATION, hasOptOutAnnotation, selects } from "./opt-out.js";
import { silentLogger } from "../logging/logger.js";

const context = { logger: silentLogger, mappingName: "m" };
const ns = (annotations: Record<string, string>, labels: Record<string, string> = { team: "a" }): NamespaceView => ({
  name: "team-a",
  labels,
  annotations,
  phase: "Active",
});
const optedOut = ns({ [OPT_OUT_ANNOTATION]: "true" });

const selectors: [string, TargetSelector][] = [
  ["all", allSelectorFactory.create(allSelectorFactory.validate({}), context)],
  ["label", labelSelectorFactory.create(labelSelectorFactory.validate("team=a"), context)],
  ["list", listSelectorFactory.create(listSelectorFactory.validate({ namespaces: ["team-a"] }), context)],
  ["a plugin selector", { description: "every namespace", matches: () => true }],
];

describe("hasOptOutAnnotation", () => {
  it.each<[Record<string, string>, boolean]>([
    [{ [OPT_OUT_ANNOTATION]: "true" }, true],
    [{ [OPT_OUT_ANNOTATION]: "True" }, false],
    [{ [OPT_OUT_ANNOTATION]: "yes" }, false],
    [{ [OPT_OUT_ANNOTATION]: "" }, false],
    [{ [EXCLUDE_ANNOTATION]: "true" }, false],
    [{}, false],
  ])('%j → %s (exactly "true")', (annotations, expected) => {
    expect(hasOptOutAnnotation({ annotations })).toBe(expected);
  });
});

describe("selects", () => {
  it.each(selectors)("%s: selected unless the namespace opted out", (_name, selector) => {
    expect(selects(selector, ns({}))).toBe(true);
    expect(selects(selector, optedOut)).toBe(false);
  });

  it("keeps titansoft's annotation as it was: list ignores it, all and label honour it", () => {
    const titansoft = ns({ [EXCLUDE_ANNOTATION]: "true" });
    const [all, label, list] = selectors.map(([, s]) => s) as [TargetSelector, TargetSelector, TargetSelector];
    expect(selects(all, titansoft)).toBe(false);
    expect(selects(label, titansoft)).toBe(false);
    expect(selects(list, titansoft)).toBe(true);
  });

  it("asks the selector only for namespaces that did not opt out", () => {
    let asked = 0;
    const selector = { matches: () => (asked++, false) };
    selects(selector, optedOut);
    expect(asked).toBe(0);
    selects(selector, ns({}));
    expect(asked).toBe(1);
  });
});
