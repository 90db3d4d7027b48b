import { describe, expect, it } from "vitest";
import { SourceFetchError } from "@imagepullsecret-patcher/core";
import { describeAwsError } from "./errors.js";

const WHERE = "GetAuthorizationToken in eu-west-1";
const SESSION_TOKEN = "IQoJb3JpZ2luX2VjEFAKEsessionTOKEN0123456789abcdefABCDEF";

function named(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name }, extra);
}

describe("describeAwsError", () => {
  it("names a service error and its status, and keeps the first line only", () => {
    const err = named(
      "AccessDeniedException",
      "User: arn:aws:sts::123456789012:assumed-role/patcher/s is not authorized to perform: ecr:GetAuthorizationToken",
      { $fault: "client", $metadata: { httpStatusCode: 400, requestId: "4b1c2f3e-8a9d-4e5f-9b6a-7c8d9e0f1a2b" } },
    );
    const out = describeAwsError(err, WHERE);
    expect(out).toBeInstanceOf(SourceFetchError);
    expect(out.message).toBe(
      `${WHERE}: AccessDeniedException (HTTP 400): User: arn:aws:sts::123456789012:assumed-role/patcher/s is not authorized to perform: ecr:GetAuthorizationToken`,
    );
    expect((out as SourceFetchError).transient).toBe(false);
  });

  it("drops a quoted canonical request and masks known secrets", () => {
    const err = named(
      "InvalidSignatureException",
      `The request signature we calculated does not match. The Canonical String for this request should have been 'POST / x-amz-security-token:${SESSION_TOKEN}'\nmore`,
      { $metadata: { httpStatusCode: 403 } },
    );
    expect(describeAwsError(err, WHERE).message).toBe(
      `${WHERE}: InvalidSignatureException (HTTP 403): The request signature we calculated does not match.`,
    );
    const quoted = named("UnrecognizedClientException", `bad token ${SESSION_TOKEN}`, {
      $metadata: { httpStatusCode: 400 },
    });
    expect(describeAwsError(quoted, WHERE, [SESSION_TOKEN]).message).not.toContain(SESSION_TOKEN);
  });

  it("says which host could not be reached, as transient", () => {
    const err = named("Error", "connect ECONNREFUSED 127.0.0.1:5000", { code: "ECONNREFUSED" });
    const out = describeAwsError(err, WHERE) as SourceFetchError;
    expect(out.message).toBe(`${WHERE}: cannot reach AWS (ECONNREFUSED)`);
    expect(out.transient).toBe(true);
    const dns = named("Error", "getaddrinfo ENOTFOUND sts.eu-west-1.amazonaws.com", {
      code: "ENOTFOUND",
      hostname: "sts.eu-west-1.amazonaws.com",
    });
    expect(describeAwsError(dns, WHERE).message).toBe(`${WHERE}: cannot reach sts.eu-west-1.amazonaws.com (ENOTFOUND)`);
    const refused = named("Error", "connect ECONNREFUSED", { code: "ECONNREFUSED", address: "127.0.0.1", port: 4566 });
    expect(describeAwsError(refused, WHERE).message).toBe(`${WHERE}: cannot reach 127.0.0.1:4566 (ECONNREFUSED)`);
  });

  it("explains a missing region and missing credentials", () => {
    expect(describeAwsError(new Error("Region is missing"), WHERE).message).toBe(
      `${WHERE}: no AWS region: set region in the registry entry, or AWS_REGION`,
    );
    const creds = named("CredentialsProviderError", "Could not load credentials from any providers");
    expect(describeAwsError(creds, WHERE).message).toBe(
      `${WHERE}: no AWS credentials: Could not load credentials from any providers`,
    );
  });

  it("passes aborts and SourceFetchErrors through", () => {
    const abort = named("AbortError", "The operation was aborted");
    expect(describeAwsError(abort, WHERE)).toBe(abort);
    const own = new SourceFetchError("x");
    expect(describeAwsError(own, WHERE)).toBe(own);
    expect(describeAwsError("boom", WHERE).message).toBe(`${WHERE}: failed with a non-error value`);
  });
});
