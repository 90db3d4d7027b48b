import { describe, expect, it } from "vitest";
import { PluginConfigError } from "@imagepullsecret-patcher/core";
import { describePluginFactoryContract } from "@imagepullsecret-patcher/core/testing";
import { validateEcrSourceConfig } from "./config.js";
import { ecrSourceFactory } from "./ecr-source.js";

function refusal(config: unknown): PluginConfigError {
  try {
    validateEcrSourceConfig(config);
  } catch (err) {
    if (err instanceof PluginConfigError) return err;
    throw err;
  }
  throw new Error("the config was accepted");
}

describe("validateEcrSourceConfig", () => {
  it("defaults to the own registry in the SDK's region, refreshed every 6 h, at most once a minute", () => {
    const expected = { registries: [{}], refreshInterval: 21_600, minRefreshInterval: 60 };
    expect(validateEcrSourceConfig({})).toEqual(expected);
    expect(validateEcrSourceConfig(null)).toEqual(expected); // `ecr:` with nothing under it
  });

  it("reads registries, durations in Go form or seconds, and an unquoted 12-digit account", () => {
    expect(
      validateEcrSourceConfig({
        registries: [
          { region: "eu-west-1" },
          { region: "eu-west-1", registryId: 210987654321 },
          { region: "cn-north-1", registryId: "012345678901", profile: "china-puller" },
          { region: "us-gov-west-1" },
        ],
        refreshInterval: "1h30m",
        minRefreshInterval: 5,
      }),
    ).toEqual({
      registries: [
        { region: "eu-west-1" },
        { region: "eu-west-1", registryId: "210987654321" },
        { region: "cn-north-1", registryId: "012345678901", profile: "china-puller" },
        { region: "us-gov-west-1" },
      ],
      refreshInterval: 5_400,
      minRefreshInterval: 5,
    });
  });

  it("takes own-account entries signed in with different profiles as different registries", () => {
    // Each profile may be another account's role: its own registry is another host.
    const registries = [{ region: "eu-west-1" }, { region: "eu-west-1", profile: "registry-b" }];
    expect(validateEcrSourceConfig({ registries }).registries).toEqual(registries);
  });

  it("lowers the default floor to a refreshInterval shorter than a minute", () => {
    expect(validateEcrSourceConfig({ refreshInterval: "10s" })).toMatchObject({
      refreshInterval: 10,
      minRefreshInterval: 10,
    });
  });

  it.each([
    [[], "", "expected a map"],
    [{ registry: [] }, "registry", "unknown key; valid keys: registries, refreshInterval, minRefreshInterval"],
    [{ registries: "eu-west-1" }, "registries", "must be a list, got a string"],
    [{ registries: [] }, "registries", "at least one registry"],
    [{ registries: ["eu-west-1"] }, "registries[0]", "expected a map with region, registryId or profile"],
    [{ registries: [{ region: "Europe" }] }, "registries[0].region", 'AWS region such as eu-west-1, got "Europe"'],
    [{ registries: [{ region: 1 }] }, "registries[0].region", "must be a string, got a number"],
    [{ registries: [{ registryId: "1234" }] }, "registries[0].registryId", "12-digit AWS account ID"],
    [{ registries: [{ registryId: 12345678901 }] }, "registries[0].registryId", "quote it"],
    [{ registries: [{ profile: "a b" }] }, "registries[0].profile", "profile name"],
    [{ registries: [{ roleArn: "arn:aws:iam::1:role/x" }] }, "registries[0].roleArn", "unknown key"],
    [
      { registries: [{ region: "eu-west-1" }, { region: "eu-west-1" }] },
      "registries[1]",
      "repeats the registry of own account in eu-west-1",
    ],
    [
      {
        registries: [
          { region: "eu-west-1", registryId: "210987654321" },
          { region: "eu-west-1", registryId: 210987654321, profile: "b" },
        ],
      },
      "registries[1]",
      "repeats the registry of 210987654321 in eu-west-1",
    ],
    [{ refreshInterval: 0 }, "refreshInterval", "at least 1s"],
    [{ refreshInterval: -3600 }, "refreshInterval", "at least 1s"],
    [{ refreshInterval: "500ms" }, "refreshInterval", "at least 1s"],
    [{ refreshInterval: "12h" }, "refreshInterval", "at most 11h"],
    [{ refreshInterval: "soon" }, "refreshInterval", "a duration such as 30s"],
    [{ refreshInterval: true }, "refreshInterval", "a duration such as 30s"],
    [{ minRefreshInterval: "500ms" }, "minRefreshInterval", "at least 1s"],
    [{ refreshInterval: "30s", minRefreshInterval: "1m" }, "refreshInterval", "shorter than minRefreshInterval (60s)"],
  ])("refuses %j at %s", (config, path, problem) => {
    const err = refusal(config);
    expect(err.path).toBe(path);
    expect(err.problem).toContain(problem);
  });
});

describePluginFactoryContract("ecrSourceFactory", {
  factory: ecrSourceFactory,
  valid: [{}, { registries: [{ region: "eu-west-1", registryId: "123456789012" }], refreshInterval: "1h" }],
  invalid: [
    { config: { registries: [{ region: "nowhere" }] }, path: "registries[0].region" },
    { config: { refreshInterval: "13h" }, path: "refreshInterval" },
  ],
  idempotent: true,
});
