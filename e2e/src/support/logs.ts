import type { Logger } from "@imagepullsecret-patcher/core";

/** A Logger that keeps every line (as JSON) for assertions, and echoes to stderr when E2E_VERBOSE=1. */
export class CapturingLogger implements Logger {
  readonly lines: string[];
  readonly #bindings: Record<string, unknown>;

  constructor(lines: string[] = [], bindings: Record<string, unknown> = {}) {
    this.lines = lines;
    this.#bindings = bindings;
  }

  #write(level: string, fields: Record<string, unknown>, message: string): void {
    const line = JSON.stringify({ level, ...this.#bindings, ...fields, message });
    this.lines.push(line);
    if (process.env.E2E_VERBOSE === "1") process.stderr.write(`${line}\n`);
  }

  debug(fields: Record<string, unknown>, message: string): void {
    this.#write("debug", fields, message);
  }
  info(fields: Record<string, unknown>, message: string): void {
    this.#write("info", fields, message);
  }
  warn(fields: Record<string, unknown>, message: string): void {
    this.#write("warn", fields, message);
  }
  error(fields: Record<string, unknown>, message: string): void {
    this.#write("error", fields, message);
  }
  child(fields: Record<string, unknown>): Logger {
    return new CapturingLogger(this.lines, { ...this.#bindings, ...fields });
  }

  text(): string {
    return this.lines.join("\n");
  }
}
