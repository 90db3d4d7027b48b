import { describe, expect, it } from "vitest";
import { runsForever } from "./runner.ts";

describe("runsForever", () => {
  it("backgrounds the patcher's run without --once and commands the doc names", () => {
    expect(runsForever("imagepullsecret-patcher run --config config.yaml", [])).toBe(true);
    expect(runsForever("imagepullsecret-patcher run", [])).toBe(true);
    expect(runsForever("imagepullsecret-patcher run --once --config config.yaml", [])).toBe(false);
    expect(runsForever("imagepullsecret-patcher validate --config config.yaml", [])).toBe(false);
    expect(
      runsForever("node examples/embedded-controller/dist/main.js --kubeconfig x", [
        "node examples/embedded-controller/dist/main.js",
      ]),
    ).toBe(true);
    expect(runsForever("kubectl get ns", ["node "])).toBe(false);
  });
});
