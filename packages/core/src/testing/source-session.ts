// One run of a source contract check: a fresh source from the harness, a listener counting its
// events, and the expectations the checks share.
import { randomBytes } from "node:crypto";
import { parseDockerConfigJson, sha256 } from "../credentials/docker-config.js";
import type { SourceProvider, SourceStatus } from "../plugins/contracts.js";
import { flushAsync } from "../util/clock.js";
import { check, show, violation } from "./assert.js";
import { SAMPLE_USER, sampleDockerConfigJson } from "./samples.js";
import type { SourceHarness, SourceHarnessFactory } from "./source-harness.js";

export interface Session {
  readonly harness: SourceHarness;
  readonly source: SourceProvider;
  readonly controller: AbortController;
  /** onChange calls seen so far (a listener registered before start). */
  events(): number;
  start(): Promise<void>;
  /** Passwords made up for this session, labelled A, B, C in messages. */
  readonly secret: { readonly A: string; readonly B: string; readonly C: string };
}

function made(label: string): string {
  return `contract-${randomBytes(6).toString("hex")}-${label}`;
}

/** Lets pending callbacks and I/O-free async work run. */
export const settle = (): Promise<void> => flushAsync();

export async function inSession(make: SourceHarnessFactory, body: (s: Session) => Promise<void>): Promise<void> {
  const harness = await make();
  check(harness && typeof harness === "object" && harness.source, "the harness factory returned no { source }");
  const controller = new AbortController();
  let count = 0;
  const off = harness.source.onChange(() => count++);
  check(typeof off === "function", "onChange() must return a function that removes the listener");
  const session: Session = {
    harness,
    source: harness.source,
    controller,
    events: () => count,
    start: () => harness.source.start(controller.signal),
    secret: { A: made("A"), B: made("B"), C: made("C") },
  };
  try {
    await body(session);
  } finally {
    off();
    controller.abort();
    await settle();
    await harness.close?.();
  }
}

function bytesOf(value: string | Uint8Array): Buffer {
  return typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
}

function labelOf(s: Session, secret: string): string {
  const entry = Object.entries(s.secret).find(([, v]) => v === secret);
  return entry ? entry[0] : "?";
}

/** current() holds exactly the credential for `secret`, and it passes validation. */
export function expectValue(s: Session, secret: string, when: string): void {
  const value = s.source.current();
  const label = labelOf(s, secret);
  check(value !== undefined, `${when}: current() is undefined; expected the credential served as ${label}`);
  const bytes = value.credential?.bytes;
  check(bytes instanceof Uint8Array, `${when}: current().credential.bytes is not a Buffer/Uint8Array`);
  let validated;
  try {
    validated = parseDockerConfigJson(bytes, "contract check");
  } catch (err) {
    violation(
      `${when}: current() exposes a value that does not pass parseDockerConfigJson (${(err as Error).message})`,
    );
  }
  const expected = sha256(bytesOf(s.harness.credentialFor?.(secret) ?? sampleDockerConfigJson(secret)));
  const actual = sha256(bytes);
  if (actual !== expected) {
    const other = Object.entries(s.secret).find(
      ([, v]) => sha256(bytesOf(s.harness.credentialFor?.(v) ?? sampleDockerConfigJson(v))) === actual,
    );
    violation(
      `${when}: current() holds ${other ? `the credential served as ${other[0]}` : `unexpected bytes (${actual})`}; expected the one served as ${label}`,
    );
  }
  check(
    value.credential.hash === actual,
    `${when}: credential.hash ${show(value.credential.hash)} is not the sha256 of its bytes (${actual})`,
  );
  check(
    Array.isArray(value.credential.registries) &&
      value.credential.registries.join(",") === validated.registries.join(","),
    `${when}: credential.registries ${show(value.credential.registries)} do not list the registries in the value (${show(validated.registries)})`,
  );
  check(
    value.fetchedAt instanceof Date && !Number.isNaN(value.fetchedAt.getTime()),
    `${when}: fetchedAt must be a valid Date, got ${show(value.fetchedAt)}`,
  );
}

export function expectState(s: Session, state: SourceStatus["state"], when: string): SourceStatus {
  const status = s.source.status();
  check(status && typeof status === "object", `${when}: status() returned ${show(status)}`);
  check(
    status.state === state,
    `${when}: status().state is ${show(status.state)}, expected "${state}"${status.error ? ` (error: ${status.error})` : ""}`,
  );
  if (state === "ready") {
    check(status.error === undefined, `${when}: a ready source must clear its error, got ${show(status.error)}`);
  } else {
    check(
      typeof status.error === "string" && status.error.trim() !== "",
      `${when}: a ${state} source must explain why in status().error, got ${show(status.error)}`,
    );
  }
  if (status.lastSuccessAt !== undefined) {
    check(
      status.lastSuccessAt instanceof Date && !Number.isNaN(status.lastSuccessAt.getTime()),
      `${when}: lastSuccessAt must be a valid Date`,
    );
  }
  expectNoSecrets(s, when);
  return status;
}

/** Neither the description nor the status may contain a password or its base64 auth value. */
export function expectNoSecrets(s: Session, when: string): void {
  const text = `${s.source.description}\n${JSON.stringify(s.source.status())}`;
  for (const [label, secret] of Object.entries(s.secret)) {
    const auth = Buffer.from(`${SAMPLE_USER}:${secret}`).toString("base64");
    check(
      !text.includes(secret) && !text.includes(auth),
      `${when}: description or status() contains the secret served as ${label}`,
    );
  }
}

export function expectNoEvent(s: Session, before: number, when: string): void {
  check(
    s.events() === before,
    `${when}: onChange fired ${s.events() - before} time(s); nothing changed, so it must not fire`,
  );
}

export function expectEvent(s: Session, before: number, when: string): void {
  check(s.events() > before, `${when}: onChange did not fire`);
}

export function closeTo(actual: Date | undefined, expected: Date, toleranceMs: number): boolean {
  return actual instanceof Date && Math.abs(actual.getTime() - expected.getTime()) <= toleranceMs;
}
