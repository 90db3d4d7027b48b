import { describe, expect, it } from "vitest";
import { parseCli, runCli, UsageError, USAGE } from "./cli.js";

function io(signal = new AbortController().signal) {
  let stdout = "";
  let stderr = "";
  return {
    io: { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, signal },
    out: () => stdout,
    err: () => stderr,
  };
}

describe("parseCli", () => {
  it("reads a Secret source with defaults", () => {
    expect(parseCli(["--kubeconfig", "/k", "--source-secret", "kube-system/regcred"])).toEqual({
      kubeconfig: "/k",
      context: undefined,
      source: { secret: { namespace: "kube-system", name: "regcred" } },
      secretName: "example-pull-secret",
      annotation: "example.com/pull-secrets",
      serviceAccounts: "default",
      logLevel: "info",
    });
  });

  it("reads a file source, names, annotation and level", () => {
    expect(
      parseCli([
        "--source-file",
        "/etc/cfg.json",
        "--secret-name",
        "pull",
        "--annotation",
        "a.io/x",
        "--service-accounts",
        "default, builder",
        "--log-level",
        "debug",
      ]),
    ).toMatchObject({
      source: { file: { path: "/etc/cfg.json" } },
      secretName: "pull",
      annotation: "a.io/x",
      serviceAccounts: ["default", "builder"],
      logLevel: "debug",
    });
    expect(parseCli(["--help"])).toBe("help");
  });

  it("reads leader election: the Lease, identity and timings in seconds", () => {
    expect(parseCli(["--source-secret", "a/b"])).toMatchObject({ leaderElection: undefined });
    const argv = [
      "--source-secret",
      "a/b",
      "--leader-elect",
      "--lease-namespace",
      "ops",
      "--identity",
      "pod-0",
      "--lease-duration",
      "4",
      "--renew-deadline",
      "3",
      "--retry-period",
      "0.5",
    ];
    expect(parseCli(argv)).toMatchObject({
      leaderElection: {
        namespace: "ops",
        name: "example-embedded-controller",
        identity: "pod-0",
        leaseDurationMs: 4000,
        renewDeadlineMs: 3000,
        retryPeriodMs: 500,
      },
    });
    expect(
      parseCli(["--source-secret", "a/b", "--leader-elect", "--lease-namespace", "ops", "--lease-name", "mine"]),
    ).toMatchObject({
      leaderElection: { namespace: "ops", name: "mine", identity: undefined, leaseDurationMs: undefined },
    });
  });

  it.each([
    [[], "exactly one of --source-secret"],
    [["--source-secret", "a/b", "--leader-elect"], "--leader-elect needs --lease-namespace"],
    [["--source-secret", "a/b", "--lease-namespace", "ops"], "--lease-namespace needs --leader-elect"],
    [
      ["--source-secret", "a/b", "--leader-elect", "--lease-namespace", "ops", "--retry-period", "0"],
      "--retry-period must be a positive number",
    ],
    [
      ["--source-secret", "a/b", "--leader-elect", "--lease-namespace", "ops", "--lease-duration", "2"],
      "must be greater than renewDeadlineMs",
    ],
    [["--source-secret", "a/b", "--source-file", "f"], "exactly one of"],
    [["--source-secret", "regcred"], "must be NAMESPACE/NAME"],
    [["--source-secret", "a/b", "--log-level", "loud"], "--log-level must be one of"],
    [["--source-secret", "a/b", "--service-accounts", ","], "--service-accounts needs"],
    [["--source-secret", "a/b", "--bogus"], "Unknown option '--bogus'"],
  ])("refuses %j", (argv, message) => {
    expect(() => parseCli(argv)).toThrow(UsageError);
    expect(() => parseCli(argv)).toThrow(message);
  });
});

describe("runCli", () => {
  it("prints usage and exits 2 on a usage error, 0 for --help", async () => {
    const bad = io();
    expect(await runCli(["--source-secret", "x"], bad.io)).toBe(2);
    expect(bad.err()).toContain("error: --source-secret must be NAMESPACE/NAME");
    expect(bad.err()).toContain(USAGE);
    const help = io();
    expect(await runCli(["--help"], help.io)).toBe(0);
    expect(help.out()).toBe(USAGE);
  });

  it("exits 1 with a logged error when the kubeconfig cannot be loaded", async () => {
    const run = io();
    expect(await runCli(["--kubeconfig", "/nonexistent/kubeconfig", "--source-secret", "a/b"], run.io)).toBe(1);
    const line = JSON.parse(run.out().trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
    expect(line).toMatchObject({ level: "error", msg: "controller failed", app: "example-embedded-controller" });
    expect(String(line.error)).toContain("/nonexistent/kubeconfig");
  });
});
