import type { NamespaceView, PatchStrategy, ServiceAccountView, TargetSelector } from "../plugins/contracts.js";
import { check, clone, deepFreeze, sameData, show, violation, withFrozenClockAndRandom } from "./assert.js";
import { resolveTestApi, type TestApi } from "./runner.js";
import { sampleNamespaces, sampleServiceAccounts } from "./samples.js";
import type { ContractCheck } from "./runner.js";

/** Options of the selector and strategy contract suites. */
export interface PureContractOptions {
  /** Runner functions; default vitest (see {@link TestApi}). */
  readonly testApi?: TestApi | undefined;
  /** Per-test timeout when the kit found the runner itself (vitest, globals). Default 30 s. */
  readonly timeoutMs?: number | undefined;
}

/** What {@link describeTargetSelectorContract} tests: a way to build the selector, and optionally what it must decide. */
export interface TargetSelectorSubject {
  /** Builds the selector (called more than once: two instances from one config must agree). */
  create(): TargetSelector;
  /** Namespaces it must select. */
  readonly matching?: readonly NamespaceView[] | undefined;
  /** Namespaces it must not select. */
  readonly notMatching?: readonly NamespaceView[] | undefined;
  /** More namespaces for the generic checks, besides the kit's {@link sampleNamespaces}. */
  readonly samples?: readonly NamespaceView[] | undefined;
}

/** What {@link describePatchStrategyContract} tests. Pairs are `[serviceAccount, itsNamespace]`. */
export interface PatchStrategySubject {
  create(): PatchStrategy;
  readonly selected?: readonly (readonly [ServiceAccountView, NamespaceView])[] | undefined;
  readonly notSelected?: readonly (readonly [ServiceAccountView, NamespaceView])[] | undefined;
  /** More pairs for the generic checks, besides the kit's {@link sampleServiceAccounts}. */
  readonly samples?: readonly (readonly [ServiceAccountView, NamespaceView])[] | undefined;
}

/** A pure decision over some input tuple, seen the same way for selectors and strategies. */
interface Pure<P, I extends readonly unknown[]> {
  readonly kind: string;
  readonly method: string;
  create(): P;
  decide(plugin: P, input: I): unknown;
  label(input: I): string;
  readonly inputs: readonly I[];
  readonly positive: readonly I[];
  readonly negative: readonly I[];
}

function describedBy(plugin: { description?: unknown }, kind: string): string {
  const d = plugin.description;
  check(typeof d === "string" && d.trim() !== "", `${kind}.description must be a non-empty string, got ${show(d)}`);
  return d;
}

function decisions<P, I extends readonly unknown[]>(subject: Pure<P, I>, plugin: P, inputs: readonly I[]): boolean[] {
  return inputs.map((input) => {
    let answer: unknown;
    try {
      answer = subject.decide(plugin, input);
    } catch (err) {
      violation(
        `${subject.method}(${subject.label(input)}) threw: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
      );
    }
    check(
      typeof answer === "boolean",
      `${subject.method}(${subject.label(input)}) must return a boolean, got ${answer instanceof Promise ? "a Promise (it must be synchronous)" : show(answer)}`,
    );
    return answer;
  });
}

function pureChecks<P extends { description?: unknown }, I extends readonly unknown[]>(
  subject: Pure<P, I>,
): ContractCheck[] {
  const { kind, method } = subject;
  const all = [...subject.inputs, ...subject.positive, ...subject.negative];
  const checks: ContractCheck[] = [
    {
      name: "has a non-empty description, the same for every instance built alike",
      run: () => {
        const a = describedBy(subject.create(), kind);
        const b = describedBy(subject.create(), kind);
        check(a === b, `two instances built alike describe themselves differently: ${show(a)} and ${show(b)}`);
        return Promise.resolve();
      },
    },
    {
      name: `${method}() returns a boolean, synchronously, for every sample`,
      run: () => {
        decisions(subject, subject.create(), all);
        return Promise.resolve();
      },
    },
    {
      name: `${method}() is deterministic: same answers on repeats, in any order, across instances, whatever the clock`,
      run: () => {
        const plugin = subject.create();
        const first = decisions(subject, plugin, all);
        const again = decisions(subject, plugin, all);
        const reversed = decisions(subject, plugin, [...all].reverse()).reverse();
        const other = decisions(subject, subject.create(), all);
        // Odd offsets, so even a dependence on the millisecond's parity shows.
        const later = withFrozenClockAndRandom(10 * 365 * 86_400_000 + 1, 0.999, () => decisions(subject, plugin, all));
        const earlier = withFrozenClockAndRandom(-86_400_000 - 1, 0, () => decisions(subject, plugin, all));
        all.forEach((input, i) => {
          const label = `${method}(${subject.label(input)})`;
          check(again[i] === first[i], `${label} answered ${first[i]} then ${again[i]}`);
          check(reversed[i] === first[i], `${label} depends on what was asked before it`);
          check(other[i] === first[i], `${label} differs between two instances built alike`);
          check(
            later[i] === first[i] && earlier[i] === first[i],
            `${label} depends on the clock or Math.random (it must be pure)`,
          );
        });
        return Promise.resolve();
      },
    },
    {
      name: "does not modify what it is given",
      run: () => {
        const plugin = subject.create();
        for (const input of all) {
          const copy = clone(input);
          const before = clone(copy);
          decisions(subject, plugin, [copy]);
          check(sameData(copy, before), `${method}(${subject.label(input)}) modified its input`);
          const frozen = deepFreeze(clone(input));
          try {
            subject.decide(plugin, frozen);
          } catch (err) {
            violation(
              `${method}(${subject.label(input)}) failed on a frozen input (it tried to modify it?): ${err instanceof Error ? err.message : String(err)}`,
            );
          }
        }
        return Promise.resolve();
      },
    },
  ];
  if (subject.positive.length === 0 && subject.negative.length === 0) return checks;
  checks.push({
    name: "decides as expected on the given examples",
    run: () => {
      const plugin = subject.create();
      const yes = decisions(subject, plugin, subject.positive);
      subject.positive.forEach((input, i) => check(yes[i], `${method}(${subject.label(input)}) must be true`));
      const no = decisions(subject, plugin, subject.negative);
      subject.negative.forEach((input, i) => check(!no[i], `${method}(${subject.label(input)}) must be false`));
      return Promise.resolve();
    },
  });
  return checks;
}

function selectorSubject(subject: TargetSelectorSubject | (() => TargetSelector)): TargetSelectorSubject {
  return typeof subject === "function" ? { create: subject } : subject;
}

function strategySubject(subject: PatchStrategySubject | (() => PatchStrategy)): PatchStrategySubject {
  return typeof subject === "function" ? { create: subject } : subject;
}

/** The rules of {@link TargetSelector} as runnable checks. */
export function targetSelectorChecks(subject: TargetSelectorSubject | (() => TargetSelector)): ContractCheck[] {
  const s = selectorSubject(subject);
  return pureChecks<TargetSelector, readonly [NamespaceView]>({
    kind: "TargetSelector",
    method: "matches",
    create: () => s.create(),
    decide: (selector, [ns]) => selector.matches(ns),
    label: ([ns]) => `namespace ${show(ns.name)}`,
    inputs: [...sampleNamespaces(), ...(s.samples ?? [])].map((ns) => [ns] as const),
    positive: (s.matching ?? []).map((ns) => [ns] as const),
    negative: (s.notMatching ?? []).map((ns) => [ns] as const),
  });
}

/** The rules of {@link PatchStrategy} as runnable checks. */
export function patchStrategyChecks(subject: PatchStrategySubject | (() => PatchStrategy)): ContractCheck[] {
  const s = strategySubject(subject);
  return pureChecks<PatchStrategy, readonly [ServiceAccountView, NamespaceView]>({
    kind: "PatchStrategy",
    method: "selects",
    create: () => s.create(),
    decide: (strategy, [sa, ns]) => strategy.selects(sa, ns),
    label: ([sa]) => `ServiceAccount ${show(`${sa.namespace}/${sa.name}`)}`,
    inputs: [...sampleServiceAccounts(), ...(s.samples ?? [])].map(([sa, ns]) => [sa, ns] as const),
    positive: (s.selected ?? []).map(([sa, ns]) => [sa, ns] as const),
    negative: (s.notSelected ?? []).map(([sa, ns]) => [sa, ns] as const),
  });
}

/**
 * Registers the {@link TargetSelector} contract: a non-empty, stable description; `matches` pure
 * (boolean, synchronous, deterministic, independent of clock and call order, no mutation of its
 * input); and the expected decisions when `matching`/`notMatching` are given.
 */
export function describeTargetSelectorContract(
  name: string,
  subject: TargetSelectorSubject | (() => TargetSelector),
  options: PureContractOptions = {},
): void {
  const api = resolveTestApi(options.testApi, options.timeoutMs);
  api.describe(`${name}: TargetSelector contract`, () => {
    for (const c of targetSelectorChecks(subject)) api.it(c.name, () => c.run());
  });
}

/** Registers the {@link PatchStrategy} contract; the same rules as for selectors, over ServiceAccounts. */
export function describePatchStrategyContract(
  name: string,
  subject: PatchStrategySubject | (() => PatchStrategy),
  options: PureContractOptions = {},
): void {
  const api = resolveTestApi(options.testApi, options.timeoutMs);
  api.describe(`${name}: PatchStrategy contract`, () => {
    for (const c of patchStrategyChecks(subject)) api.it(c.name, () => c.run());
  });
}
