// The soak scenario: two patcher instances ("alpha" as two leader-elected replicas, "beta" as one
// process) with overlapping mappings, fixtures the patchers do not own, and a seeded random
// sequence of operations against all of it. The model is in model.ts, the fixtures in setup.ts,
// the operations in operations.ts.
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { eventually } from "../support/kube.ts";
import { Fleet, writeAtomically } from "./fleet.ts";
import { ALPHA_MEMBERS, BETA_MEMBER, LEASE_NAME, SoakModel } from "./model.ts";
import { OPERATIONS, type OpKind } from "./operations.ts";
import type { Random } from "./random.ts";
import { createFixtures } from "./setup.ts";
import { SOAK_LABEL, renderConfig } from "./world.ts";

export { ALPHA_MEMBERS, BETA_MEMBER, LEASE_NAME, SOURCES } from "./model.ts";
export { OP_WEIGHTS, type OpKind } from "./operations.ts";

export interface OpRecord {
  /** ms since the operations started. */
  at: number;
  kind: OpKind;
  detail: string;
}

export class Scenario extends SoakModel {
  readonly core: k8s.CoreV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  readonly src: string;
  readonly fleet: Fleet;
  readonly alphaConfig: string;
  readonly betaConfig: string;
  readonly ops: OpRecord[] = [];
  readonly takeovers: { how: string; ms: number | undefined }[] = [];
  #opsStarted = 0;

  constructor(admin: k8s.KubeConfig, rnd: Random, run: string, dir: string) {
    super(rnd, run);
    this.core = admin.makeApiClient(k8s.CoreV1Api);
    this.coordination = admin.makeApiClient(k8s.CoordinationV1Api);
    this.src = `${run}-src`;
    this.alphaConfig = join(dir, "alpha", "config.yaml");
    this.betaConfig = join(dir, "beta", "config.yaml");
    this.fleet = new Fleet(admin, dir, this.src, `${run}-patchers`);
  }

  writeConfigs(): void {
    writeAtomically(this.alphaConfig, renderConfig(this.alphaSpec(), this.src));
    writeAtomically(this.betaConfig, renderConfig(this.betaSpec(), this.src));
  }

  // -------------------------------------------------------------------------------------------
  // Cluster objects the model keeps track of
  // -------------------------------------------------------------------------------------------

  async createNamespace(name: string, labels: Record<string, string>, fixed: boolean): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name, labels } } });
    this.namespaces.set(name, { fixed, labels: { ...labels } });
  }

  async createDynamic(): Promise<string> {
    const name = `${this.run}-d${this.nextNamespace++}`;
    await this.createNamespace(name, this.randomLabels(), false);
    return name;
  }

  async foreignSecret(
    namespace: string,
    name: string,
    type: string,
    data: Record<string, string>,
    labels: Record<string, string> = {},
  ): Promise<void> {
    await this.core.createNamespacedSecret({
      namespace,
      body: { metadata: { name, labels, annotations: { owner: "someone-else" } }, type, data },
    });
    this.foreign.push({ kind: "Secret", namespace, name });
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle
  // -------------------------------------------------------------------------------------------

  /** Source namespace and sources, fixed namespaces with foreign objects and hand entries, a few dynamic namespaces, and the config files. */
  async setup(): Promise<void> {
    await createFixtures(this);
    this.writeConfigs();
  }

  async startPatchers(): Promise<void> {
    await this.fleet.provision([
      ...ALPHA_MEMBERS.map((id) => ({ id, instance: "alpha", configPath: this.alphaConfig })),
      { id: BETA_MEMBER, instance: "beta", configPath: this.betaConfig },
    ]);
    for (const id of [...ALPHA_MEMBERS, BETA_MEMBER]) await this.fleet.start(id);
    await this.fleet.member(BETA_MEMBER).proc?.waitForLog((l) => l.msg === "engine started", 60_000);
    await this.leaderReady();
  }

  async leaseHolder(): Promise<string | undefined> {
    const lease = await this.coordination
      .readNamespacedLease({ name: LEASE_NAME, namespace: this.src })
      .catch(() => undefined);
    return lease?.spec?.holderIdentity || undefined;
  }

  /** The alpha replica holding the lease, once one of the running replicas does. */
  async leaderReady(timeoutMs = 30_000): Promise<string> {
    return eventually(
      "an alpha replica to hold the lease",
      async () => {
        const holder = await this.leaseHolder();
        return holder && this.fleet.running().some((m) => m.id === holder) ? holder : undefined;
      },
      timeoutMs,
    );
  }

  async runOp(kind: OpKind): Promise<void> {
    if (!this.#opsStarted) this.#opsStarted = Date.now();
    const at = Date.now() - this.#opsStarted;
    let detail: string;
    try {
      detail = await OPERATIONS[kind](this);
    } catch (err) {
      detail = `failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
    }
    this.ops.push({ at, kind, detail });
  }

  /** Every member running again, alpha with a leader, and both instances' working members through their first pass. */
  async restoreFleet(): Promise<void> {
    for (const id of [...ALPHA_MEMBERS, BETA_MEMBER]) await this.fleet.start(id);
    const leader = await this.leaderReady(60_000);
    // A leader that just took over reconciles every key once more, and reports the conflicts it finds again; the
    // state the checks judge may already be right from the previous leader, so wait for that pass to end.
    await this.firstPassDone(leader, true, 60_000);
    await this.firstPassDone(BETA_MEMBER, false, 60_000);
  }

  /** Leading (where it elects), at least one reconcile done and the work queue empty for 3 s, by its metrics. */
  async firstPassDone(id: string, elects: boolean, timeoutMs: number): Promise<void> {
    let emptySince: number | undefined;
    await eventually(
      `${id} to finish its first pass (leader, reconciled, queue empty for 3 s)`,
      async () => {
        const text = (await this.fleet.metrics(id)) ?? "";
        const sum = (name: string): number =>
          [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))].reduce(
            (t, m) => t + Number(m[1]),
            0,
          );
        const idle =
          (!elects || sum("imagepullsecret_patcher_leader") >= 1) &&
          sum("imagepullsecret_patcher_reconciles_total") > 0 &&
          sum("imagepullsecret_patcher_queue_depth") === 0;
        if (!idle) emptySince = undefined;
        else emptySince ??= Date.now();
        return emptySince !== undefined && Date.now() - emptySince >= 3000 ? true : undefined;
      },
      timeoutMs,
    );
  }

  async cleanup(): Promise<void> {
    await this.fleet.stopAll();
    await this.fleet.deprovision();
    const all = await this.core.listNamespace({ labelSelector: `${SOAK_LABEL}=${this.run}` });
    const names = [this.src, ...all.items.map((n) => n.metadata?.name ?? "")];
    await Promise.all(names.map((name) => this.core.deleteNamespace({ name }).catch(() => undefined)));
  }
}
