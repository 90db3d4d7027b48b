// The selector, strategy and factory contracts run against every built-in selector and strategy.
import { describe } from "vitest";
import type { PluginContext } from "../plugins/contracts.js";
import { silentLogger } from "../logging/logger.js";
import { EXCLUDE_ANNOTATION } from "../selectors/exclusions.js";
import {
  MAPPING_ANNOTATION,
  allSelectorFactory,
  annotationSelectorFactory,
  labelSelectorFactory,
  listSelectorFactory,
} from "../selectors/index.js";
import { OPT_OUT_ANNOTATION } from "../selectors/opt-out.js";
import {
  allStrategyFactory,
  defaultStrategyFactory,
  namedStrategyFactory,
  selectorStrategyFactory,
} from "../strategies/index.js";
import { fileSourceFactory } from "../sources/file/file-source.js";
import { secretSourceFactory } from "../sources/secret/secret-source.js";
import { vaultSourceFactory } from "../sources/vault/index.js";
import {
  describePatchStrategyContract,
  describePluginFactoryContract,
  describeTargetSelectorContract,
  namespaceView as ns,
  serviceAccountView as sa,
} from "./index.js";

const context: PluginContext = { logger: silentLogger, mappingName: "contract" };

describe("built-in selectors", () => {
  describeTargetSelectorContract("all", {
    create: () => allSelectorFactory.create(allSelectorFactory.validate({ exclude: ["kube-*"] }), context),
    matching: [ns("team-a"), ns("default")],
    notMatching: [ns("kube-system"), ns("team-x", {}, { [EXCLUDE_ANNOTATION]: "true" })],
  });
  describeTargetSelectorContract("label", {
    create: () =>
      labelSelectorFactory.create(
        labelSelectorFactory.validate({ matchLabels: { team: "a" }, exclude: ["legacy"] }),
        context,
      ),
    matching: [ns("team-a", { team: "a" }), ns("team-a-dev", { team: "a", env: "dev" })],
    notMatching: [ns("team-b", { team: "b" }), ns("legacy", { team: "a" }), ns("unlabelled")],
  });
  describeTargetSelectorContract("label (expressions)", {
    create: () => labelSelectorFactory.create(labelSelectorFactory.validate("env in (prod,staging),!legacy"), context),
    matching: [ns("p", { env: "prod" })],
    notMatching: [ns("d", { env: "dev" }), ns("l", { env: "prod", legacy: "" })],
  });
  describeTargetSelectorContract("annotation", {
    create: () =>
      annotationSelectorFactory.create(annotationSelectorFactory.validate({ exclude: ["kube-*"] }), context),
    matching: [
      ns("team-a", {}, { [MAPPING_ANNOTATION]: "contract" }),
      ns("b", {}, { [MAPPING_ANNOTATION]: "x,contract" }),
    ],
    notMatching: [
      ns("team-x"),
      ns("other", {}, { [MAPPING_ANNOTATION]: "other" }),
      ns("kube-system", {}, { [MAPPING_ANNOTATION]: "contract" }),
      ns("titansoft", {}, { [MAPPING_ANNOTATION]: "contract", [EXCLUDE_ANNOTATION]: "true" }),
      ns("opted-out", {}, { [MAPPING_ANNOTATION]: "contract", [OPT_OUT_ANNOTATION]: "true" }),
    ],
  });
  describeTargetSelectorContract("list", {
    create: () =>
      listSelectorFactory.create(listSelectorFactory.validate({ namespaces: ["team-a", "team-b"] }), context),
    matching: [ns("team-a"), ns("team-b", {}, { [EXCLUDE_ANNOTATION]: "true" })],
    notMatching: [ns("team-c"), ns("default")],
  });
});

describe("built-in strategies", () => {
  const team = ns("team-a");
  describePatchStrategyContract("default", {
    create: () => defaultStrategyFactory.create(defaultStrategyFactory.validate({}), context),
    selected: [[sa("team-a", "default"), team]],
    notSelected: [[sa("team-a", "builder"), team]],
  });
  describePatchStrategyContract("all", {
    create: () => allStrategyFactory.create(allStrategyFactory.validate(undefined), context),
    selected: [
      [sa("team-a", "default"), team],
      [sa("team-a", "builder"), team],
    ],
  });
  describePatchStrategyContract("named", {
    create: () =>
      namedStrategyFactory.create(namedStrategyFactory.validate({ names: ["builder", "deployer.v2"] }), context),
    selected: [
      [sa("team-a", "builder"), team],
      [sa("team-a", "deployer.v2"), team],
    ],
    notSelected: [[sa("team-a", "default"), team]],
  });
  describePatchStrategyContract("selector", {
    create: () =>
      selectorStrategyFactory.create(selectorStrategyFactory.validate({ matchLabels: { app: "ci" } }), context),
    selected: [[sa("team-a", "builder", { app: "ci" }), team]],
    notSelected: [
      [sa("team-a", "default"), team],
      [sa("team-a", "web", { app: "web" }), team],
    ],
  });
});

describe("built-in factories", () => {
  describePluginFactoryContract("secret source", {
    factory: secretSourceFactory,
    valid: [{ name: "regcred", namespace: "kube-system" }],
    invalid: [
      { config: { name: "regcred" }, path: "namespace" },
      { config: "regcred", path: "" },
    ],
    idempotent: true,
  });
  describePluginFactoryContract("file source", {
    factory: fileSourceFactory,
    valid: [{ path: "/etc/registry/config.json" }, { path: "/x", pollIntervalSeconds: 5 }],
    invalid: [
      { config: {}, path: "path" },
      { config: { path: "/x", pollIntervalSeconds: -1 }, path: "pollIntervalSeconds" },
    ],
    idempotent: true,
  });
  describePluginFactoryContract("vault source", {
    factory: vaultSourceFactory,
    valid: [
      { address: "https://vault.example:8200", path: "registry/docker", auth: { kubernetes: { role: "patcher" } } },
    ],
    invalid: [{ config: { address: "ftp://vault", path: "p", auth: { token: { token: "t" } } }, path: "address" }],
  });
  describePluginFactoryContract("all selector", {
    factory: allSelectorFactory,
    valid: [undefined, { exclude: ["kube-*"] }],
    invalid: [{ config: 3, path: "" }],
    idempotent: true,
  });
  describePluginFactoryContract("annotation selector", {
    factory: annotationSelectorFactory,
    valid: [undefined, {}, { exclude: ["kube-*"] }],
    invalid: [
      { config: "team-a", path: "" },
      { config: { exclude: ["Bad!"] }, path: "exclude[0]" },
    ],
    idempotent: true,
  });
  describePluginFactoryContract("label selector", {
    factory: labelSelectorFactory,
    valid: ["team=a", { matchLabels: { team: "a" } }],
    invalid: [{ config: 3, path: "" }],
    idempotent: true,
  });
  describePluginFactoryContract("list selector", {
    factory: listSelectorFactory,
    valid: [{ namespaces: ["a"] }],
    invalid: [{ config: { namespaces: [] }, path: "namespaces" }],
    idempotent: true,
  });
  describePluginFactoryContract("default strategy", {
    factory: defaultStrategyFactory,
    valid: [undefined, {}],
    invalid: [{ config: { x: 1 }, path: "" }],
    idempotent: true,
  });
  describePluginFactoryContract("all strategy", { factory: allStrategyFactory, valid: [true], idempotent: true });
  describePluginFactoryContract("named strategy", {
    factory: namedStrategyFactory,
    valid: [{ names: ["a", "b"] }],
    invalid: [{ config: { names: ["A"] }, path: "names[0]" }],
    idempotent: true,
  });
  describePluginFactoryContract("selector strategy", {
    factory: selectorStrategyFactory,
    valid: ["app=web"],
    invalid: [{ config: 7, path: "" }],
    idempotent: true,
  });
});
