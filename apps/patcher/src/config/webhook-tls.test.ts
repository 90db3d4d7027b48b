import { describe, expect, it } from "vitest";
import { ConfigFileError, parseConfigText } from "./load.js";

function tls(fields: string): unknown {
  const text = `source: {secret: {name: a, namespace: b}}\nwebhook:\n  tls: {${fields}}\n`;
  return parseConfigText(text, "config.yaml").config.webhook.tls;
}

function refusal(fields: string): ConfigFileError {
  try {
    tls(fields);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    return err as ConfigFileError;
  }
  throw new Error(`expected webhook.tls {${fields}} to be refused`);
}

describe("webhook.tls lifetimes", () => {
  it("defaults to 90 days, a year and 10 minutes", () => {
    expect(tls("")).toMatchObject({ servingValidity: "2160h", caValidity: "8760h", caPropagation: "10m" });
  });

  it("accepts the floors", () => {
    expect(tls("servingValidity: 4m, caValidity: 8m, caPropagation: 80s")).toMatchObject({
      servingValidity: "4m",
      caValidity: "8m",
      caPropagation: "80s",
    });
    expect(tls("servingValidity: 720h, caValidity: 720h")).toMatchObject({ caPropagation: "10m" });
  });

  it.each([
    ["servingValidity: 3m59s, caValidity: 1h, caPropagation: 1m", "webhook.tls.servingValidity", /at least 4m/],
    ["servingValidity: 4m, caValidity: 7m, caPropagation: 1m", "webhook.tls.caValidity", /at least 8m/],
    ["servingValidity: 2h, caValidity: 1h", "webhook.tls.caValidity", /at least servingValidity/],
    ["servingValidity: 1h, caPropagation: 30s", "webhook.tls.caPropagation", /at least 1m/],
    ["servingValidity: 15m", "webhook.tls.caPropagation", /at most a third of servingValidity/],
  ])("refuses %s", (fields, path, problem) => {
    const err = refusal(fields);
    expect(err.path).toBe(path);
    expect(err.problem).toMatch(problem);
  });

  it("refuses text that is no duration", () => {
    expect(refusal('servingValidity: "90 days"').path).toBe("webhook.tls.servingValidity");
  });
});
