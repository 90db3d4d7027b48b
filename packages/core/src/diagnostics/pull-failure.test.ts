import { describe, expect, it } from "vitest";
import { classifyPullFailure, PULL_FAILURE_FIELD_SELECTOR } from "./pull-failure.js";

const pod = { kind: "Pod", namespace: "team-a", name: "web-1", uid: "u-1" };

describe("classifyPullFailure", () => {
  it("reads the kubelet's Failed to pull image Event", () => {
    const event = {
      reason: "Failed",
      message: 'Failed to pull image "registry.example/app:1": rpc error: code = Unknown desc = 401 Unauthorized',
      involvedObject: pod,
    };
    expect(classifyPullFailure(event)).toEqual({
      namespace: "team-a",
      pod: "web-1",
      uid: "u-1",
      image: "registry.example/app:1",
    });
  });

  it("reads the container errors that follow a failed pull", () => {
    for (const message of ["Error: ErrImagePull", "Error: ImagePullBackOff"]) {
      expect(classifyPullFailure({ reason: "Failed", message, involvedObject: pod })).toMatchObject({
        pod: "web-1",
        image: undefined,
      });
    }
  });

  it("reads the Back-off pulling image Event and the events.k8s.io spelling", () => {
    const event = { reason: "BackOff", note: 'Back-off pulling image "registry.example/app:1"', regarding: pod };
    expect(classifyPullFailure(event)?.image).toBe("registry.example/app:1");
  });

  it("ignores failures that are not pulls, and Events on other kinds", () => {
    expect(
      classifyPullFailure({ reason: "Failed", message: "Error: context deadline exceeded", involvedObject: pod }),
    ).toBeUndefined();
    expect(
      classifyPullFailure({
        reason: "BackOff",
        message: "Back-off restarting failed container app in pod web-1_team-a",
        involvedObject: pod,
      }),
    ).toBeUndefined();
    expect(
      classifyPullFailure({
        reason: "Failed",
        message: 'Failed to pull image "x"',
        involvedObject: { ...pod, kind: "Node" },
      }),
    ).toBeUndefined();
    expect(
      classifyPullFailure({ reason: "Pulling", message: 'Pulling image "x"', involvedObject: pod }),
    ).toBeUndefined();
  });

  it("watches one reason, on Pods only", () => {
    expect(PULL_FAILURE_FIELD_SELECTOR).toBe("involvedObject.kind=Pod,reason=Failed");
  });
});
