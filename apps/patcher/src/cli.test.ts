import "reflect-metadata";
import { describe, expect, it } from "vitest";
import type { KeyStatus } from "@imagepullsecret-patcher/core";
import { EXIT, reportOnce } from "./cli.js";

interface Line {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function capture(): { lines: Line[]; logger: Parameters<typeof reportOnce>[1] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void =>
      void lines.push({ level, fields, message });
  const logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: () => logger };
  return { lines, logger };
}

const failing: KeyStatus = { mapping: "a", namespace: "ns-3", outcome: "error", reason: "HTTP 500", at: new Date(0) };

describe("run --once exit codes", () => {
  it("exits 0 after a full pass, 1 when a key failed", () => {
    expect(reportOnce({ problems: [] }, capture().logger)).toBe(EXIT.ok);
    expect(reportOnce({ problems: [failing] }, capture().logger)).toBe(EXIT.failed);
  });

  it("exits 143 when SIGTERM cut the pass short, and says per mapping how many namespaces were not finished", () => {
    const { lines, logger } = capture();
    const code = reportOnce(
      {
        problems: [failing],
        interrupted: {
          reason: "SIGTERM",
          cachesSynced: true,
          unfinished: [{ mapping: "a", inScope: 10, finished: 4 }],
        },
      },
      logger,
    );
    expect(code).toBe(143);
    expect(lines.find((l) => l.message === "not finished")?.fields).toEqual({
      mapping: "a",
      inScope: 10,
      finished: 4,
      notFinished: 6,
    });
    const summary = lines.find((l) => l.message === "single pass interrupted before it finished");
    expect(summary?.level).toBe("error");
    expect(summary?.fields).toMatchObject({ signal: "SIGTERM", notFinished: 6, failed: ["a/ns-3"] });
    expect(lines.some((l) => l.message === "single pass finished")).toBe(false);
  });

  it("exits 130 for SIGINT, also when the caches had not synced yet", () => {
    const { lines, logger } = capture();
    expect(
      reportOnce({ problems: [], interrupted: { reason: "SIGINT", cachesSynced: false, unfinished: [] } }, logger),
    ).toBe(130);
    expect(lines.some((l) => l.message.includes("before the caches synced"))).toBe(true);
  });
});
