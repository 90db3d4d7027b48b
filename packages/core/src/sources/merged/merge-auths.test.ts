import { describe, expect, it } from "vitest";
import { InvalidCredentialError, MAX_SECRET_BYTES, parseDockerConfigJson } from "../../credentials/docker-config.js";
import { mergeAuths, registryHost, registryKey, type MergePart } from "./merge-auths.js";

const auth = (password: string): string => Buffer.from(`user:${password}`).toString("base64");
function part(description: string, auths: Record<string, unknown>): MergePart {
  return { description, credential: parseDockerConfigJson(JSON.stringify({ auths }), description) };
}
const authsOf = (bytes: Buffer): Record<string, unknown> =>
  (JSON.parse(bytes.toString("utf8")) as { auths: Record<string, unknown> }).auths;

describe("registryHost", () => {
  it.each([
    ["registry.example", "registry.example"],
    ["https://index.docker.io/v1/", "index.docker.io"],
    ["Registry.Example:5000/path", "registry.example:5000"],
    ["http://localhost:5000", "localhost:5000"],
  ])("%s → %s", (key, host) => {
    expect(registryHost(key)).toBe(host);
  });
});

describe("registryKey", () => {
  it.each([
    ["registry.example", "registry.example"],
    ["https://index.docker.io/v1/", "index.docker.io"],
    ["https://Registry.Example:5000/v2/", "registry.example:5000"],
    ["registry.example/", "registry.example"],
    ["registry.example/team-a", "registry.example/team-a"],
    ["https://registry.example/v2/team-a/", "registry.example/team-a"],
    ["registry.example/v2-mirror", "registry.example/v2-mirror"],
  ])("%s → %s", (key, registry) => {
    expect(registryKey(key)).toBe(registry);
  });
});

describe("mergeAuths", () => {
  it("unions the auths of every part, in order, as a validated credential", () => {
    const merged = mergeAuths(
      [part("a", { "a.example": { auth: auth("pa") } }), part("b", { "b.example": { auth: auth("pb") } })],
      "merged",
    );
    expect(merged.conflicts).toEqual([]);
    expect(merged.credential.registries).toEqual(["a.example", "b.example"]);
    expect(authsOf(merged.credential.bytes)).toEqual({
      "a.example": { auth: auth("pa") },
      "b.example": { auth: auth("pb") },
    });
    expect(merged.credential).toEqual(parseDockerConfigJson(merged.credential.bytes, "again"));
  });

  it("keeps the first part's entry for a host two parts list, and reports it without credentials", () => {
    const merged = mergeAuths(
      [
        part("first", { "shared.example": { auth: auth("one") }, "a.example": { auth: auth("pa") } }),
        part("second", { "https://Shared.example/v2/": { auth: auth("two") }, "b.example": { auth: auth("pb") } }),
        part("third", { "shared.example": { auth: auth("three") } }),
      ],
      "merged",
    );
    expect(authsOf(merged.credential.bytes)).toEqual({
      "shared.example": { auth: auth("one") },
      "a.example": { auth: auth("pa") },
      "b.example": { auth: auth("pb") },
    });
    expect(merged.conflicts).toEqual([
      { host: "shared.example", kept: "first", ignored: "second" },
      { host: "shared.example", kept: "first", ignored: "third" },
    ]);
    expect(JSON.stringify(merged.conflicts)).not.toMatch(/one|two|three|dXNlcj/);
  });

  it("keeps keys scoped to different paths of one host: the kubelet uses each for its own images", () => {
    const merged = mergeAuths(
      [
        part("team-a", { "harbor.example/team-a": { auth: auth("pa") }, "harbor.example": { auth: auth("host") } }),
        part("team-b", { "harbor.example/team-b": { auth: auth("pb") }, "https://harbor.example/v2/": {} }),
      ],
      "merged",
    );
    expect(merged.credential.registries).toEqual(["harbor.example/team-a", "harbor.example", "harbor.example/team-b"]);
    expect(merged.conflicts).toEqual([{ host: "harbor.example", kept: "team-a", ignored: "team-b" }]);
  });

  it("keeps two keys one part writes for one host", () => {
    const merged = mergeAuths(
      [part("only", { "https://index.docker.io/v1/": { auth: auth("x") }, "index.docker.io": { auth: auth("x") } })],
      "merged",
    );
    expect(merged.credential.registries).toEqual(["https://index.docker.io/v1/", "index.docker.io"]);
    expect(merged.conflicts).toEqual([]);
  });

  it("leaves out keys other than auths, and gives identical bytes for identical parts", () => {
    const withExtras = {
      description: "x",
      credential: parseDockerConfigJson(JSON.stringify({ auths: { r: {} }, credsStore: "desktop" }), "x"),
    };
    const once = mergeAuths([withExtras], "merged");
    expect(JSON.parse(once.credential.bytes.toString("utf8"))).toEqual({ auths: { r: {} } });
    expect(mergeAuths([withExtras], "merged").credential.hash).toBe(once.credential.hash);
  });

  it("refuses a union larger than a Secret may hold", () => {
    const half = "x".repeat(MAX_SECRET_BYTES / 2);
    const big = (host: string): MergePart => part(host, { [host]: { auth: auth("p"), note: half } });
    expect(() => mergeAuths([big("a.example"), big("b.example")], "merged")).toThrow(InvalidCredentialError);
  });
});
