// What the soak test asked for: its namespaces and their labels, the entries users added by hand,
// the objects the patchers do not own, and the knobs of the two instances' configs. The state
// the patchers must converge to is computed from this (see world.ts).
import { TEST_PASSWORD_PREFIX } from "../support/fixtures.ts";
import type { ForeignRef } from "./observe.ts";
import type { Random } from "./random.ts";
import { SOAK_LABEL, type InstanceSpec, type MappingSpec } from "./world.ts";

export const SOURCES = ["regcred-a", "regcred-b", "regcred-c", "mirror", "mirror-c"] as const;
/** alpha runs as two leader-elected replicas holding this Lease; beta as one process. */
export const ALPHA_MEMBERS = ["alpha-0", "alpha-1"] as const;
export const BETA_MEMBER = "beta-0";
export const LEASE_NAME = "soak-alpha";

export interface NamespaceModel {
  fixed: boolean;
  labels: Record<string, string>;
}

/** Fixed namespaces, by role. */
export interface FixedNamespaces {
  conflict: string;
  overlap: string;
  mirror: string;
  untouched: string;
}

export class SoakModel {
  readonly rnd: Random;
  readonly run: string;
  readonly fx: FixedNamespaces;
  readonly namespaces = new Map<string, NamespaceModel>();
  /** "namespace/serviceaccount" → imagePullSecrets added by hand, in order. */
  readonly hand = new Map<string, string[]>();
  readonly foreign: ForeignRef[] = [];
  // Config knobs the reload operation turns.
  alpha = { mirror: true, mirrorSecret: "mirror-pull", teamB: [] as string[] };
  beta = { cMirror: false };
  /** Counters behind generated names and source passwords. */
  nextNamespace = 0;
  nextServiceAccount = 0;
  rotation = 0;

  constructor(rnd: Random, run: string) {
    this.rnd = rnd;
    this.run = run;
    this.fx = {
      conflict: `${run}-fx-conflict`,
      overlap: `${run}-fx-overlap`,
      mirror: `${run}-fx-mirror`,
      untouched: `${run}-fx-untouched`,
    };
  }

  labels(extra: Record<string, string> = {}): Record<string, string> {
    return { [SOAK_LABEL]: this.run, ...extra };
  }

  alphaSpec(): InstanceSpec {
    const mappings: MappingSpec[] = [
      {
        name: "team-a",
        source: "regcred-a",
        secretName: "regcred",
        target: { kind: "labels", labels: this.labels({ team: "a" }) },
        serviceAccounts: "default",
      },
      {
        name: "team-b",
        source: "regcred-b",
        secretName: "regcred",
        target: { kind: "list", names: [this.fx.overlap, ...this.alpha.teamB] },
        serviceAccounts: "all",
      },
    ];
    if (this.alpha.mirror) {
      mappings.push({
        name: "mirror",
        source: "mirror",
        secretName: this.alpha.mirrorSecret,
        target: { kind: "labels", labels: this.labels({ mirror: "yes" }) },
        serviceAccounts: ["default", "builder"],
      });
    }
    return { instance: "alpha", mappings, leaderElection: true };
  }

  betaSpec(): InstanceSpec {
    const mappings: MappingSpec[] = [
      {
        name: "team-c",
        source: "regcred-c",
        secretName: "regcred",
        target: { kind: "labels", labels: this.labels({ team: "c" }) },
        serviceAccounts: "default",
      },
    ];
    if (this.beta.cMirror) {
      mappings.push({
        name: "c-mirror",
        source: "mirror-c",
        secretName: "mirror-pull",
        target: { kind: "labels", labels: this.labels({ team: "c", mirror: "yes" }) },
        serviceAccounts: "all",
      });
    }
    return { instance: "beta", mappings, leaderElection: false };
  }

  instances(): InstanceSpec[] {
    return [this.alphaSpec(), this.betaSpec()];
  }

  password(source: string): string {
    return `${TEST_PASSWORD_PREFIX}soak-${source}-${this.rotation}`;
  }

  dynamicNames(): string[] {
    return [...this.namespaces.entries()].filter(([, m]) => !m.fixed).map(([n]) => n);
  }

  /** Namespaces that exist (in the model), fixed ones included. */
  live(): string[] {
    return [...this.namespaces.keys()];
  }

  /** A name a dynamic namespace may get soon (so a list target can name it before it exists). */
  futureName(): string {
    return `${this.run}-d${this.nextNamespace + this.rnd.int(0, 3)}`;
  }

  randomLabels(): Record<string, string> {
    const extra: Record<string, string> = {};
    const team = this.rnd.pick(["a", "c", "", ""]);
    if (team) extra.team = team;
    if (this.rnd.chance(0.4)) extra.mirror = "yes";
    return this.labels(extra);
  }
}
