import { describe, expect, it } from "vitest";
import { builtinRegistries } from "@imagepullsecret-patcher/core";
import { buildConfiguredMappings, ConfigFileError, parseConfigText } from "../config/load.js";
import { configFromTitansoftEnv } from "./env-config.js";
import { envSourceFactory } from "../plugins/env-source.js";

function registries() {
  const r = builtinRegistries();
  r.sources.register(envSourceFactory);
  return r;
}

describe("titansoft CONFIG_* variables", () => {
  it("maps titansoft's defaults: default ServiceAccount, image-pull-secret, force (overwrite), 10s loop", () => {
    const { loaded, runOnce } = configFromTitansoftEnv({
      CONFIG_DOCKERCONFIGJSONPATH: "/app/secrets/.dockerconfigjson",
    });
    expect(runOnce).toBe(false);
    expect(loaded.origin).toBe("environment");
    expect(loaded.config.controller.resyncInterval).toBe("10s");
    const [m] = buildConfiguredMappings(loaded, { registries: registries() });
    expect(m?.secretName).toBe("image-pull-secret");
    expect(m?.conflictPolicy).toBe("overwrite");
    expect(m?.source.description).toBe("file /app/secrets/.dockerconfigjson");
    expect(m?.strategy.description).toContain("default");
  });

  it("maps every variable", () => {
    const { loaded, runOnce } = configFromTitansoftEnv({
      CONFIG_DOCKERCONFIGJSON: '{"auths":{"r":{"auth":"dTpw"}}}',
      CONFIG_SECRETNAME: "my-pull",
      CONFIG_EXCLUDED_NAMESPACES: "kube-system, kube-public",
      CONFIG_SERVICEACCOUNTS: "default,builder",
      CONFIG_FORCE: "false",
      CONFIG_RUNONCE: "true",
      CONFIG_LOOP_DURATION: "1m30s",
      CONFIG_DEBUG: "1",
    });
    expect(runOnce).toBe(true);
    expect(loaded.config.log.level).toBe("debug");
    expect(loaded.config.controller.resyncInterval).toBe("1m30s");
    const [m] = buildConfiguredMappings(loaded, { registries: registries() });
    expect(m?.secretName).toBe("my-pull");
    expect(m?.conflictPolicy).toBe("skip");
    expect(m?.source.description).toBe("environment variable CONFIG_DOCKERCONFIGJSON");
    const ns = (name: string) => ({ name, labels: {}, annotations: {}, phase: "Active" });
    expect(m?.selector.matches(ns("kube-public"))).toBe(false); // trimmed, unlike titansoft
    expect(m?.selector.matches(ns("team-a"))).toBe(true);
    expect(
      m?.selector.matches({
        ...ns("opted-out"),
        annotations: { "k8s.titansoft.com/imagepullsecret-patcher-exclude": "true" },
      }),
    ).toBe(false);
    const sa = (name: string) => ({ namespace: "x", name, labels: {}, annotations: {} });
    expect(m?.strategy.selects(sa("builder"), ns("x"))).toBe(true);
    expect(m?.strategy.selects(sa("other"), ns("x"))).toBe(false);
  });

  it("CONFIG_ALLSERVICEACCOUNT patches every ServiceAccount; CONFIG_MANAGEDONLY means skip foreign Secrets", () => {
    const { loaded } = configFromTitansoftEnv({
      CONFIG_DOCKERCONFIGJSONPATH: "/x",
      CONFIG_ALLSERVICEACCOUNT: "true",
      CONFIG_MANAGEDONLY: "true",
    });
    const [m] = buildConfiguredMappings(loaded, { registries: registries() });
    expect(m?.strategy.description).toContain("all");
    expect(m?.conflictPolicy).toBe("skip");
  });

  it.each([
    [{ CONFIG_DOCKERCONFIGJSONPATH: "/x", CONFIG_FORCE: "yes" }, "CONFIG_FORCE", "not a boolean"],
    [{ CONFIG_DOCKERCONFIGJSONPATH: "/x", CONFIG_LOOP_DURATION: "ten" }, "CONFIG_LOOP_DURATION", "not a duration"],
    [{ CONFIG_DOCKERCONFIGJSON: "{}", CONFIG_DOCKERCONFIGJSONPATH: "/x" }, "CONFIG_DOCKERCONFIGJSON", "not both"],
    [{ CONFIG_SECRETNAME: "x" }, "CONFIG_DOCKERCONFIGJSONPATH", "no credential"],
    [{ CONFIG_DOCKERCONFIGJSONPATH: "/x", CONFIG_SERVICEACCOUNTS: " , " }, "CONFIG_SERVICEACCOUNTS", "is empty"],
  ])("refuses %j, naming the variable", (env, name, problem) => {
    try {
      configFromTitansoftEnv(env);
      throw new Error("expected an error");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigFileError);
      expect((err as ConfigFileError).path).toBe(name);
      expect((err as Error).message).toContain(problem);
    }
  });

  it("refuses a secretName that is not a valid Secret name, naming CONFIG_SECRETNAME", () => {
    expect(() => configFromTitansoftEnv({ CONFIG_DOCKERCONFIGJSONPATH: "/x", CONFIG_SECRETNAME: "Bad_Name" })).toThrow(
      /^environment: CONFIG_SECRETNAME: "Bad_Name" is not a valid Secret name/,
    );
  });

  it("keeps titansoft's copy name image-pull-secret, where a config file names copies after a secret source", () => {
    const secret = { secret: { name: "regcred", namespace: "kube-system" } };
    const { loaded } = configFromTitansoftEnv({ CONFIG_DOCKERCONFIGJSONPATH: "/app/secrets/.dockerconfigjson" });
    expect(loaded.config.secretName).toBe("image-pull-secret");
    const env = { ...loaded, mappings: loaded.mappings.map((m) => ({ ...(m as object), source: secret })) };
    expect(buildConfiguredMappings(env, { registries: registries() }).map((m) => m.secretName)).toEqual([
      "image-pull-secret",
    ]);
    const file = parseConfigText("source: {secret: {name: regcred, namespace: kube-system}}\n", "config.yaml");
    expect(buildConfiguredMappings(file, { registries: registries() }).map((m) => m.secretName)).toEqual(["regcred"]);
  });
});
