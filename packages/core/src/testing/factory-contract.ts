import { silentLogger } from "../logging/logger.js";
import { PluginConfigError, type PluginContext } from "../plugins/contracts.js";
import { check, clone, deepFreeze, show, violation } from "./assert.js";
import { resolveTestApi, type TestApi } from "./runner.js";
import type { ContractCheck } from "./runner.js";

/** A config the factory must refuse, and optionally the error path it must name. */
export interface InvalidConfig {
  readonly config: unknown;
  /** Expected {@link PluginConfigError.path} (relative to the plugin's config object). */
  readonly path?: string | undefined;
  /** Text the problem must contain. */
  readonly problem?: string | RegExp | undefined;
}

/** Any plugin factory (source, selector or strategy), whatever its config type. */
export interface AnyPluginFactory {
  readonly type: string;
  readonly summary: string;
  validate(config: unknown): unknown;
  create(config: never, context: PluginContext): unknown;
}

/** A plugin factory under test, with configs it must accept and refuse. */
export interface PluginFactorySubject {
  readonly factory: AnyPluginFactory;
  /** Configs users may write; each must validate and create a plugin. At least one. */
  readonly valid: readonly unknown[];
  /** Configs that must be refused with a {@link PluginConfigError}. */
  readonly invalid?: readonly InvalidConfig[] | undefined;
  /** Context passed to `create`. Default: silent logger, no kubeConfig, mapping `contract`. */
  readonly context?: PluginContext | undefined;
  /** `validate(validate(x))` must equal `validate(x)`: the factory accepts its own output again. */
  readonly idempotent?: boolean | undefined;
  readonly testApi?: TestApi | undefined;
  /** Per-test timeout when the kit found the runner itself (vitest, globals). Default 30 s. */
  readonly timeoutMs?: number | undefined;
}

const TYPE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

function validate(factory: AnyPluginFactory, config: unknown, label: string): unknown {
  try {
    return factory.validate(config);
  } catch (err) {
    violation(`validate(${label}) refused a valid config: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The rules of `PluginFactory` as runnable checks. */
export function pluginFactoryChecks(subject: PluginFactorySubject): ContractCheck[] {
  const { factory } = subject;
  const context: PluginContext = subject.context ?? { logger: silentLogger, mappingName: "contract" };
  const checks: ContractCheck[] = [
    {
      name: "has a lower-case type and a one-line summary",
      run: () => {
        check(
          typeof factory.type === "string" && TYPE.test(factory.type),
          `type must be lower-case words joined by "-", got ${show(factory.type)}`,
        );
        check(
          typeof factory.summary === "string" && factory.summary.trim() !== "" && !factory.summary.includes("\n"),
          `summary must be one non-empty line, got ${show(factory.summary)}`,
        );
        check(subject.valid.length > 0, "give at least one valid config");
        return Promise.resolve();
      },
    },
    {
      name: "validates the valid configs without modifying them, and creates a described plugin from each",
      run: () => {
        subject.valid.forEach((config, i) => {
          const label = `valid[${i}]`;
          const validated = validate(factory, deepFreeze(clone(config)), label);
          const plugin = factory.create(validated as never, context) as { description?: unknown } | undefined;
          check(plugin && typeof plugin === "object", `create(${label}) returned ${show(plugin)}`);
          check(
            typeof plugin.description === "string" && plugin.description.trim() !== "",
            `create(${label}) made a plugin without a description`,
          );
          if (subject.idempotent) {
            const again = validate(factory, clone(validated), `validate(${label})`);
            check(
              JSON.stringify(again) === JSON.stringify(validated),
              `validate() does not accept its own output for ${label} unchanged: ${show(validated)} became ${show(again)}`,
            );
          }
        });
        return Promise.resolve();
      },
    },
  ];
  if (subject.invalid?.length) {
    checks.push({
      name: "refuses invalid configs with a PluginConfigError naming the path",
      run: () => {
        subject.invalid?.forEach((entry, i) => {
          const label = `invalid[${i}] ${show(entry.config)}`;
          let thrown: unknown;
          try {
            factory.validate(deepFreeze(clone(entry.config)));
          } catch (err) {
            thrown = err;
          }
          check(thrown !== undefined, `validate(${label}) accepted it`);
          check(
            thrown instanceof PluginConfigError,
            `validate(${label}) threw ${thrown instanceof Error ? thrown.name : typeof thrown}, not a PluginConfigError (from the same @imagepullsecret-patcher/core: make core a peer dependency of the plugin)`,
          );
          if (entry.path !== undefined)
            check(
              thrown.path === entry.path,
              `validate(${label}): error path is ${show(thrown.path)}, expected ${show(entry.path)}`,
            );
          if (entry.problem !== undefined) {
            const ok =
              typeof entry.problem === "string"
                ? thrown.problem.includes(entry.problem)
                : entry.problem.test(thrown.problem);
            check(ok, `validate(${label}): problem ${show(thrown.problem)} does not match ${String(entry.problem)}`);
          }
        });
        return Promise.resolve();
      },
    });
  }
  return checks;
}

/**
 * Registers the `PluginFactory` contract: a usable `type` and `summary`, valid configs accepted
 * (frozen, so validate must not modify them) and turned into described plugins, invalid configs
 * refused with a {@link PluginConfigError} at the expected path.
 */
export function describePluginFactoryContract(name: string, subject: PluginFactorySubject): void {
  const api = resolveTestApi(subject.testApi, subject.timeoutMs);
  api.describe(`${name}: PluginFactory contract`, () => {
    for (const c of pluginFactoryChecks(subject)) api.it(c.name, () => c.run());
  });
}
