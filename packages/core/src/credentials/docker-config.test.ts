import { describe, expect, it } from "vitest";
import { InvalidCredentialError, MAX_SECRET_BYTES, parseDockerConfigJson } from "./docker-config.js";

const PASSWORD = "s3cr3t-test-password";
const auth = Buffer.from(`robot:${PASSWORD}`).toString("base64");
const valid = JSON.stringify({ auths: { "registry.example": { auth } } });

function reason(raw: string | undefined): string {
  try {
    parseDockerConfigJson(raw, "secret kube-system/regcred");
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidCredentialError);
    const message = (err as Error).message;
    expect(message).toContain("secret kube-system/regcred");
    expect(message).not.toContain(PASSWORD);
    expect(message).not.toContain(auth);
    return message;
  }
  throw new Error("expected a rejection");
}

describe("parseDockerConfigJson", () => {
  it("accepts a valid value and hashes it without exposing it", () => {
    const parsed = parseDockerConfigJson(valid, "test");
    expect(parsed.registries).toEqual(["registry.example"]);
    expect(parsed.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(parsed.bytes.toString()).toBe(valid);
  });

  it("accepts entries without auth (identitytoken style)", () => {
    expect(parseDockerConfigJson(JSON.stringify({ auths: { r: { identitytoken: "x" } } }), "t").registries).toEqual([
      "r",
    ]);
  });

  it.each([
    [undefined, "no value"],
    ["", "empty value"],
    [`{"auths": {"r": {"auth": "${auth}"}`, "not valid JSON"],
    ["[]", "expected a JSON object"],
    [JSON.stringify({ credsStore: "desktop" }), 'missing the "auths" object'],
    [JSON.stringify({ auths: {} }), '"auths" has no registry'],
    [JSON.stringify({ auths: { r: "x" } }), 'auths["r"] is not an object'],
    [JSON.stringify({ auths: { r: { auth: "not base64!" } } }), 'auths["r"].auth is not base64'],
    [
      JSON.stringify({ auths: { r: { auth: Buffer.from("nocolon").toString("base64") } } }),
      "does not decode to user:password",
    ],
  ])("rejects %j with a message naming the problem", (raw, expected) => {
    expect(reason(raw)).toContain(expected);
  });

  it("rejects values larger than the Secret size limit", () => {
    const big = JSON.stringify({ auths: { r: { auth } }, pad: "x".repeat(MAX_SECRET_BYTES) });
    expect(reason(big)).toContain("larger than the 1 MiB Secret limit");
  });
});
