// Bad input: every case gets a message that names the field or the object, and nothing is
// destroyed: no copy deleted or overwritten, no foreign object touched.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { startEngine, type RunningEngine } from "../src/support/engine.ts";
import { runPatcher } from "../src/support/patcher-process.ts";
import {
  TEST_PASSWORD_PREFIX,
  b64,
  dockerConfigJson,
  putSourceSecret,
  readSecret,
  waitForCopy,
} from "../src/support/fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "patcher-bad-"));
const SRC =
  "mappings:\n  - name: a\n    source: { secret: { name: regcred, namespace: kube-system } }\n    targets: { all: {} }\n";

describe("bad config: refused with the field named, exit code 2", () => {
  const cases: [string, string, RegExp][] = [
    ["not YAML", "mappings: [\n  - name: a\n", /not valid YAML.*line \d+/],
    [
      "wrong type",
      'source: {secret: {name: a, namespace: b}}\ncontroller: {workers: "four"}\n',
      /controller\.workers: .*expected number.*line 2/,
    ],
    [
      "unknown source type",
      "mappings:\n  - name: a\n    source: { s3: {} }\n    targets: { all: {} }\n",
      /mappings\[0\]\.source: unknown source type "s3"; valid types: env, file, secret, vault/,
    ],
    [
      "unknown plugin package",
      `plugins: [acme-registry-provider-missing]\n${SRC}`,
      /plugin package "acme-registry-provider-missing": not installed/,
    ],
    [
      "invalid label selector",
      "mappings:\n  - name: a\n    source: { secret: { name: a, namespace: b } }\n    targets: { selector: 'team notin' }\n",
      /mappings\[0\]\.targets\.selector/,
    ],
    [
      "duplicate mapping names",
      `${SRC}  - name: a\n    source: { secret: { name: b, namespace: kube-system } }\n    targets: { namespaces: [x] }\n    secretName: other\n`,
      /mappings\[1\]\.name: "a" is already used by mappings\[0\]/,
    ],
    [
      "two mappings, one secret, one namespace",
      "mappings:\n  - { name: a, source: { secret: { name: a, namespace: b } }, targets: { namespaces: [x, y] } }\n  - { name: b, source: { secret: { name: a, namespace: b } }, targets: { namespaces: [y] } }\n",
      /mappings\[1\]: .*both write Secret "a" into namespace "y"/,
    ],
    [
      "secretName not DNS-1123",
      `secretName: Pull_Secret\n${SRC}`,
      /secretName: "Pull_Secret" is not a valid Secret name.*line 1/,
    ],
    ["empty mappings", "mappings: []\n", /mappings: at least one mapping is required/],
    [
      "missing file path",
      "mappings:\n  - name: a\n    source: { file: {} }\n    targets: { all: {} }\n",
      /mappings\[0\]\.source\.file\.path/,
    ],
    [
      "invalid Vault URL",
      "mappings:\n  - name: a\n    source: { vault: { address: 'vault:8200', path: registry, auth: { token: { token: x } } } }\n    targets: { all: {} }\n",
      /mappings\[0\]\.source\.vault\.address: must be an http\(s\) URL/,
    ],
    ["unknown field", `${SRC}    serviceAcounts: all\n`, /mappings\[0\]\.serviceAcounts: unknown field/],
  ];
  it.each(cases)("%s", async (_what, text, message) => {
    const file = join(dir, `${uniqueName("cfg")}.yaml`);
    writeFileSync(file, text);
    const result = await runPatcher(["validate", "--config", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain(file);
  });
});

describe("bad credentials: never propagated, existing copies kept, the source named", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const password = `${TEST_PASSWORD_PREFIX}${uniqueName("bad")}`;
  const credFile = join(dir, "dockerconfig.json");
  const label = uniqueName("bad");
  let src: string;
  let target: string;
  let patcher: RunningEngine;
  const copies = new Map<string, string>();

  beforeAll(async () => {
    src = await namespaces.create("bad-src");
    target = await namespaces.create("bad-tgt", { bad: label });
    await putSourceSecret(core, src, "regcred", password);
    writeFileSync(credFile, dockerConfigJson(password));
    patcher = await startEngine(kc, [
      {
        name: "from-file",
        source: { file: { path: credFile, pollIntervalSeconds: 1 } },
        targets: { selector: `bad=${label}` },
        secretName: "from-file",
      },
      {
        name: "from-secret",
        source: { secret: { name: "regcred", namespace: src } },
        targets: { selector: `bad=${label}` },
        secretName: "from-secret",
      },
      // The source's own namespace is excluded; the source is never a target either way.
      {
        name: "excluded-src",
        source: { secret: { name: "regcred", namespace: src } },
        targets: { all: { exclude: [src, "kube-*", "default"] } },
        secretName: `excl-${label}`,
      },
    ]);
    for (const name of ["from-file", "from-secret"])
      copies.set(name, (await waitForCopy(core, target, name, password)).metadata?.resourceVersion ?? "");
    await eventually("default SA references all three copies", async () => {
      const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: target });
      const names = (sa.imagePullSecrets ?? []).map((r) => r.name).sort();
      return JSON.stringify(names) === JSON.stringify([`excl-${label}`, "from-file", "from-secret"].sort())
        ? true
        : undefined;
    });
  });
  afterAll(async () => {
    patcher.engine.setMappings([]);
    await eventually("cleanup", async () =>
      (await core.listSecretForAllNamespaces({ labelSelector: `imagepullsecret-patcher.io/mapping=excluded-src` }))
        .items.length === 0
        ? true
        : undefined,
    );
    await patcher.stop();
    await namespaces.cleanup();
    expect(patcher.logger.text()).not.toContain(password);
  });

  async function expectKept(mapping: string, problem: RegExp): Promise<void> {
    const status = await eventually(`${mapping} degraded`, () => {
      const s = patcher.engine.status().find((m) => m.name === mapping);
      return s?.sourceState === "degraded" && s.sourceError && problem.test(s.sourceError) ? s : undefined;
    });
    expect(status.sourceError).not.toContain(password);
    // Nothing destroyed: the copy is exactly as it was.
    expect((await readSecret(core, target, mapping))?.metadata?.resourceVersion).toBe(copies.get(mapping));
  }

  it.each([
    ["empty file", "", /file .*dockerconfig\.json: invalid \.dockerconfigjson: empty value/],
    ["not JSON", "{auths:", /file .*dockerconfig\.json: .*not valid JSON/],
    ["JSON without auths", '{"credsStore":"osxkeychain"}', /missing the "auths" object/],
    ["auth not base64", '{"auths":{"r.example":{"auth":"not*base64"}}}', /auths\["r\.example"\]\.auth is not base64/],
    [
      "larger than the API limit",
      JSON.stringify({ auths: { r: { auth: b64("u:p") } }, pad: "x".repeat(1024 * 1024) }),
      /larger than the 1 MiB Secret limit/,
    ],
  ])("file source: %s", async (_what, content, problem) => {
    writeFileSync(credFile, content);
    await expectKept("from-file", problem);
    writeFileSync(credFile, dockerConfigJson(password));
    await eventually("file source ready", () =>
      patcher.engine.status().find((m) => m.name === "from-file")?.sourceState === "ready" ? true : undefined,
    );
  });

  it("secret source: wrong type, missing key, invalid value, deleted", async () => {
    const replace = async (secret: k8s.V1Secret): Promise<void> => {
      await core.deleteNamespacedSecret({ name: "regcred", namespace: src }).catch(() => undefined);
      await core.createNamespacedSecret({ namespace: src, body: { ...secret, metadata: { name: "regcred" } } });
    };
    await replace({ type: "Opaque", data: { ".dockerconfigjson": b64(dockerConfigJson(password)) } });
    await expectKept(
      "from-secret",
      new RegExp(`Secret ${src}/regcred has type Opaque, expected kubernetes\\.io/dockerconfigjson`),
    );
    await replace({ type: "Opaque", data: { config: b64("x") } });
    await expectKept(
      "from-secret",
      new RegExp(`Secret ${src}/regcred has no \\.dockerconfigjson key \\(keys: config\\)`),
    );
    await replace({ type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": b64('{"auths":{}}') } });
    await expectKept("from-secret", /"auths" has no registry/);
    await core.deleteNamespacedSecret({ name: "regcred", namespace: src });
    await expectKept("from-secret", new RegExp(`Secret ${src}/regcred was deleted`));
    await putSourceSecret(core, src, "regcred", password);
    await eventually("secret source ready", () =>
      patcher.engine.status().find((m) => m.name === "from-secret")?.sourceState === "ready" ? true : undefined,
    );
  });

  it("a source in an excluded namespace: copies everywhere else, none in the source's namespace", async () => {
    await waitForCopy(core, target, `excl-${label}`, password);
    expect(await readSecret(core, src, `excl-${label}`)).toBeUndefined();
    const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: src });
    expect((sa.imagePullSecrets ?? []).map((r) => r.name)).not.toContain(`excl-${label}`);
  });
});
