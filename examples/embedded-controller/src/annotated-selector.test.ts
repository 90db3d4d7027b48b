import { describe, expect, it } from "vitest";
import { describeTargetSelectorContract, namespaceView as ns } from "@imagepullsecret-patcher/core/testing";
import { AnnotatedNamespaceSelector, PULL_SECRETS_ANNOTATION } from "./annotated-selector.js";

describeTargetSelectorContract("AnnotatedNamespaceSelector", {
  create: () => new AnnotatedNamespaceSelector(),
  matching: [
    ns("team-a", {}, { [PULL_SECRETS_ANNOTATION]: "true" }),
    ns("labelled", { team: "a" }, { [PULL_SECRETS_ANNOTATION]: "true", other: "x" }),
  ],
  notMatching: [
    ns("plain"),
    ns("false", {}, { [PULL_SECRETS_ANNOTATION]: "false" }),
    ns("upper", {}, { [PULL_SECRETS_ANNOTATION]: "True" }),
    ns("label-only", { [PULL_SECRETS_ANNOTATION]: "true" }),
  ],
});

describeTargetSelectorContract("AnnotatedNamespaceSelector (custom annotation)", {
  create: () => new AnnotatedNamespaceSelector("acme.io/registry"),
  matching: [ns("a", {}, { "acme.io/registry": "true" })],
  notMatching: [ns("b", {}, { [PULL_SECRETS_ANNOTATION]: "true" })],
});

describe("AnnotatedNamespaceSelector", () => {
  it("describes the annotation it looks for and refuses an empty one", () => {
    expect(new AnnotatedNamespaceSelector().description).toBe('namespaces annotated example.com/pull-secrets: "true"');
    expect(() => new AnnotatedNamespaceSelector("")).toThrow("annotation must be a non-empty string");
  });
});
