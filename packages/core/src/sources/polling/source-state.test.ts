import { describe, expect, it } from "vitest";
import { parseDockerConfigJson } from "../../credentials/docker-config.js";
import type { Logger } from "../../logging/logger.js";
import { silentLogger } from "../../logging/logger.js";
import { SourceStateMachine } from "./source-state.js";

const credential = (user: string) =>
  parseDockerConfigJson(
    JSON.stringify({ auths: { "registry.example": { auth: Buffer.from(`${user}:pw`).toString("base64") } } }),
    "test",
  );

function machine(logger: Logger = silentLogger): { state: SourceStateMachine; events: () => number } {
  const state = new SourceStateMachine("test source", logger);
  let events = 0;
  state.onChange(() => events++);
  return { state, events: () => events };
}

describe("SourceStateMachine", () => {
  it("starts pending, turns ready on a value, and keeps the value through failures as degraded", () => {
    const { state, events } = machine();
    expect(state.status()).toEqual({
      state: "pending",
      error: undefined,
      lastSuccessAt: undefined,
      expiresAt: undefined,
    });
    const at = new Date(1_000);
    const first = state.succeeded(credential("a"), at, new Date(9_000));
    expect(first).toMatchObject({ previousState: "pending", state: "ready", valueChanged: true, announced: true });
    expect(state.status()).toEqual({ state: "ready", error: undefined, lastSuccessAt: at, expiresAt: new Date(9_000) });
    const failed = state.failed("test source: down");
    expect(failed).toMatchObject({ previousState: "ready", state: "degraded", announced: true });
    expect(failed.previous?.credential.hash).toBe(credential("a").hash);
    expect(state.current()?.credential.hash).toBe(credential("a").hash);
    expect(state.status()).toMatchObject({
      state: "degraded",
      error: "test source: down",
      lastSuccessAt: at,
      expiresAt: new Date(9_000),
    });
    expect(events()).toBe(2);
  });

  it("announces a new value, expiry, state or error, and nothing else", () => {
    const { state, events } = machine();
    expect(state.failed("e1").announced).toBe(true); // pending gains an error
    expect(state.failed("e1").announced).toBe(false);
    expect(state.failed("e2").announced).toBe(true);
    state.succeeded(credential("a"), new Date(1));
    const confirmed = state.succeeded(credential("a"), new Date(2));
    expect(confirmed).toMatchObject({ valueChanged: false, announced: false });
    expect(state.current()?.fetchedAt).toEqual(new Date(2)); // timestamps still move
    expect(state.succeeded(credential("a"), new Date(3), new Date(10)).announced).toBe(true);
    expect(state.succeeded(credential("b"), new Date(4), new Date(10))).toMatchObject({
      valueChanged: true,
      announced: true,
    });
    expect(events()).toBe(5);
  });

  it("keeps calling listeners after one throws, and lets each registration go on its own", () => {
    const errors: string[] = [];
    const logger = { ...silentLogger, error: (_fields: object, message: string) => errors.push(message) } as Logger;
    const { state, events } = machine(logger);
    state.onChange(() => {
      throw new Error("listener bug");
    });
    let twice = 0;
    const listener = (): void => void twice++;
    const off = state.onChange(listener);
    state.onChange(listener);
    off();
    state.succeeded(credential("a"), new Date(1));
    expect(events()).toBe(1);
    expect(twice).toBe(1);
    expect(errors).toEqual(["onChange listener threw"]);
  });

  it("refuses a second start and reports an aborted signal", () => {
    const stopped: string[] = [];
    const live = new SourceStateMachine("s", silentLogger);
    const controller = new AbortController();
    expect(live.begin(controller.signal, () => stopped.push("live"))).toBe(true);
    expect(() => live.begin(controller.signal, () => undefined)).toThrow(/already started/);
    controller.abort();
    const late = new SourceStateMachine("s", silentLogger);
    expect(late.begin(AbortSignal.abort(), () => stopped.push("late"))).toBe(false);
    expect(stopped).toEqual(["live", "late"]);
  });
});
