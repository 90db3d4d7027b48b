import { describe, expect, it } from "vitest";
import { createJsonLogger } from "./logger.js";

function capture() {
  const lines: string[] = [];
  return {
    lines,
    stream: { write: (line: string) => lines.push(line) },
    parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("createJsonLogger", () => {
  it("writes one JSON object per line with time, level, message, bound and call fields", () => {
    const out = capture();
    const logger = createJsonLogger({ stream: out.stream, fields: { app: "x" }, now: () => new Date(0) });
    logger.child({ mapping: "annotated" }).info({ namespace: "team-a" }, "copied");
    expect(out.lines).toEqual([
      `${JSON.stringify({ time: "1970-01-01T00:00:00.000Z", level: "info", msg: "copied", app: "x", mapping: "annotated", namespace: "team-a" })}\n`,
    ]);
  });

  it("drops lines below its level and serialises errors and bigints", () => {
    const out = capture();
    const logger = createJsonLogger({ stream: out.stream, level: "warn" });
    logger.debug({}, "d");
    logger.info({}, "i");
    logger.warn({ error: new TypeError("bad"), n: 10n }, "w");
    logger.error({}, "e");
    expect(out.parsed().map((l) => [l.level, l.msg])).toEqual([
      ["warn", "w"],
      ["error", "e"],
    ]);
    expect(out.parsed()[0]).toMatchObject({ error: "TypeError: bad", n: "10" });
    const silent = capture();
    createJsonLogger({ stream: silent.stream, level: "silent" }).error({}, "nothing");
    expect(silent.lines).toEqual([]);
  });

  it("keeps children independent of each other and of the parent", () => {
    const out = capture();
    const root = createJsonLogger({ stream: out.stream });
    const a = root.child({ who: "a" });
    root.child({ who: "b" }).info({}, "b");
    a.info({}, "a");
    root.info({}, "root");
    expect(out.parsed().map((l) => l.who)).toEqual(["b", "a", undefined]);
  });
});
