import { describe, expect, it } from "vitest";
import {
  WebhookConfigurationError,
  webhookLabelInPath,
  webhookLabelOf,
  webhookNameOf,
  webhookPathOf,
} from "./webhook-names.js";

describe("webhook names of a mapping", () => {
  it("keeps a mapping name that is a DNS label already", () => {
    expect(webhookLabelOf("team-a")).toBe("team-a");
    expect(webhookNameOf("team-a")).toBe("team-a.pods.imagepullsecret-patcher.io");
    expect(webhookPathOf("team-a")).toBe("/mutate-pods/team-a");
  });

  it.each([
    ["Team A", "team-a"],
    ["--ecr_prod--", "ecr-prod"],
    ["a.b/c", "a-b-c"],
    ["ÄÖ x", "x"],
  ])("turns %j into the label %j", (name, label) => {
    expect(webhookLabelOf(name)).toBe(label);
  });

  it("refuses a name without a letter or digit, naming the mapping", () => {
    expect(() => webhookLabelOf("--")).toThrow(WebhookConfigurationError);
    expect(() => webhookLabelOf("--")).toThrow('mapping "--": its name has no letter or digit');
  });

  it("refuses a name longer than a DNS label", () => {
    expect(webhookLabelOf("a".repeat(63))).toBe("a".repeat(63));
    expect(() => webhookLabelOf("a".repeat(64))).toThrow("makes a DNS label of 64 characters");
  });
});

describe("webhookLabelInPath", () => {
  it.each<[string, string | undefined]>([
    ["/mutate-pods/team-a", "team-a"],
    ["/mutate-pods/team-a?timeout=2s", "team-a"],
    ["/base/mutate-pods/team-a", "team-a"],
    ["/mutate-pods/", undefined],
    ["/mutate-pods/Team", undefined],
    ["/mutate-pods/a/b", undefined],
    ["/healthz", undefined],
    ["", undefined],
  ])("reads %j as %j", (path, label) => {
    expect(webhookLabelInPath(path)).toBe(label);
  });

  it("routes back to the mapping whose label it is", () => {
    const mappings = ["Team A", "ecr"];
    const label = webhookLabelInPath(webhookPathOf("Team A"));
    expect(mappings.find((name) => webhookLabelOf(name) === label)).toBe("Team A");
  });
});
