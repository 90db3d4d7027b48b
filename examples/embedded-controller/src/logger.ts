import type { Logger } from "@imagepullsecret-patcher/core";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface JsonLoggerOptions {
  /** Where lines go; anything with `write(string)`. */
  readonly stream: { write(line: string): unknown };
  /** Lowest level written. Default `info`. */
  readonly level?: LogLevel | undefined;
  /** Fields on every line, e.g. `{ app: "my-controller" }`. */
  readonly fields?: Record<string, unknown> | undefined;
  /** Clock for the `time` field (tests pass a fixed one). */
  readonly now?: (() => Date) | undefined;
}

/**
 * This program's own logger: one JSON object per line, `{ time, level, msg, ...fields }`. Core only
 * needs the five methods of its {@link Logger} interface, so pino, winston adapters or this do.
 * No global state: every instance writes where it was told to.
 */
export function createJsonLogger(options: JsonLoggerOptions): Logger {
  const threshold = RANK[options.level ?? "info"];
  const now = options.now ?? (() => new Date());
  const make = (bound: Record<string, unknown>): Logger => {
    const write =
      (level: Exclude<LogLevel, "silent">) =>
      (fields: Record<string, unknown>, msg: string): void => {
        if (RANK[level] < threshold) return;
        const line = { time: now().toISOString(), level, msg, ...bound, ...fields };
        options.stream.write(`${JSON.stringify(line, replacer)}\n`);
      };
    return {
      debug: write("debug"),
      info: write("info"),
      warn: write("warn"),
      error: write("error"),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make({ ...options.fields });
}

/** Errors as their message; bigints as strings: JSON.stringify would drop or throw on them. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === "bigint") return value.toString();
  return value;
}
