import { describe, expect, it } from "vitest";
import { namespaceView, serviceAccountView } from "./views.js";

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
const applied = JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a" } }).repeat(20);

describe("cached views", () => {
  it("keep kubectl's last-applied annotation as a key without its value", () => {
    const ns = namespaceView({ metadata: { name: "team-a", annotations: { [LAST_APPLIED]: applied, team: "a" } } });
    expect(ns.annotations).toEqual({ [LAST_APPLIED]: "", team: "a" });
    const sa = serviceAccountView({
      metadata: { namespace: "team-a", name: "default", annotations: { [LAST_APPLIED]: applied } },
      imagePullSecrets: [{ name: "regcred" }],
    });
    // Still non-empty: a patch adding our record must address its own key, not replace the map.
    expect(sa.annotations).toEqual({ [LAST_APPLIED]: "" });
    expect(sa.imagePullSecrets).toEqual(["regcred"]);
  });

  it("share the informer's map when there is nothing to blank", () => {
    const annotations = { team: "a" };
    expect(namespaceView({ metadata: { name: "team-a", annotations } }).annotations).toBe(annotations);
  });
});
