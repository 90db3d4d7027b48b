import { describe, expect, it } from "vitest";
import { parseDockerConfigJson } from "@imagepullsecret-patcher/core";
import { decodeAuthorizationToken, ecrDockerConfigJson, registryHost } from "./docker-config.js";

const PASSWORD = "eyJwYXlsb2FkIjoiZmFrZS1lY3ItcGFzc3dvcmQifQ==";
const TOKEN = Buffer.from(`AWS:${PASSWORD}`).toString("base64");
const WHERE = "GetAuthorizationToken in eu-west-1";

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("no error");
}

describe("decodeAuthorizationToken", () => {
  it("splits base64 AWS:<password> at the first colon", () => {
    expect(decodeAuthorizationToken(TOKEN, WHERE)).toEqual({ username: "AWS", password: PASSWORD });
    const colons = Buffer.from("AWS:pa:ss").toString("base64");
    expect(decodeAuthorizationToken(colons, WHERE)).toEqual({ username: "AWS", password: "pa:ss" });
  });

  it.each([
    [undefined, "has no authorizationToken"],
    ["", "has no authorizationToken"],
    [`${TOKEN}!`, "is not base64"],
    [Buffer.from(PASSWORD).toString("base64"), "does not decode to user:password"],
    [Buffer.from(`AWS:${PASSWORD}\n`).toString("base64"), "does not decode to user:password"],
    [Buffer.from("AWS:").toString("base64"), "does not decode to user:password"],
  ])("refuses %j without quoting it", (token, problem) => {
    const message = messageOf(() => decodeAuthorizationToken(token, WHERE));
    expect(message).toBe(
      `${WHERE}: the authorizationToken ${problem}`.replace("authorizationToken has no", "answer has no"),
    );
    expect(message).not.toContain(PASSWORD);
    if (typeof token === "string" && token) expect(message).not.toContain(token);
  });
});

describe("registryHost", () => {
  it("takes the proxyEndpoint's host, or puts another account in its first label", () => {
    const endpoint = "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    expect(registryHost(endpoint, undefined, WHERE)).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com");
    expect(registryHost(endpoint, "210987654321", WHERE)).toBe("210987654321.dkr.ecr.eu-west-1.amazonaws.com");
    expect(registryHost("https://123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "210987654321", WHERE)).toBe(
      "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn",
    );
    expect(registryHost("https://123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "210987654321", WHERE)).toBe(
      "210987654321.dkr.ecr-fips.us-east-1.amazonaws.com",
    );
  });

  it("says so when it cannot tell the host", () => {
    expect(messageOf(() => registryHost(undefined, undefined, WHERE))).toBe(
      `${WHERE}: the answer has no proxyEndpoint`,
    );
    expect(messageOf(() => registryHost("not a url", undefined, WHERE))).toContain("the proxyEndpoint is not a URL");
    expect(messageOf(() => registryHost("https://registry.internal", "210987654321", WHERE))).toBe(
      `${WHERE}: cannot tell the host of registry 210987654321 from the proxyEndpoint host registry.internal`,
    );
  });
});

describe("ecrDockerConfigJson", () => {
  it("writes username, password and auth per host, sorted, and passes core's validation", () => {
    const text = ecrDockerConfigJson([
      { host: "b.dkr.ecr.eu-west-1.amazonaws.com", username: "AWS", password: "pw-b" },
      { host: "a.dkr.ecr.eu-west-1.amazonaws.com", username: "AWS", password: PASSWORD },
    ]);
    expect(text).toBe(
      JSON.stringify({
        auths: {
          "a.dkr.ecr.eu-west-1.amazonaws.com": { username: "AWS", password: PASSWORD, auth: TOKEN },
          "b.dkr.ecr.eu-west-1.amazonaws.com": {
            username: "AWS",
            password: "pw-b",
            auth: Buffer.from("AWS:pw-b").toString("base64"),
          },
        },
      }),
    );
    expect(parseDockerConfigJson(text, "test").registries).toEqual([
      "a.dkr.ecr.eu-west-1.amazonaws.com",
      "b.dkr.ecr.eu-west-1.amazonaws.com",
    ]);
  });
});
