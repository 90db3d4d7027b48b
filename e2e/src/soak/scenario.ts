// The soak scenario: two patcher instances ("alpha" as two leader-elected replicas, "beta" as one
// process) with overlapping mappings, fixtures the patchers do not own, and a seeded random
// sequence of operations against all of it.
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { TEST_PASSWORD_PREFIX, b64, dockerConfigJson, putSourceSecret, sleep } from "../support/fixtures.ts";
import { eventually, statusCode } from "../support/kube.ts";
import { Fleet, writeAtomically } from "./fleet.ts";
import type { Random } from "./random.ts";
import { SOAK_LABEL, renderConfig, type InstanceSpec, type MappingSpec } from "./world.ts";
import type { ForeignRef } from "./observe.ts";

const JSON_PATCH = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch);
const MANAGED_BY = "app.kubernetes.io/managed-by";

export const SOURCES = ["regcred-a", "regcred-b", "regcred-c", "mirror", "mirror-c"] as const;
export const ALPHA_MEMBERS = ["alpha-0", "alpha-1"] as const;
export const BETA_MEMBER = "beta-0";
export const LEASE_NAME = "soak-alpha";

export type OpKind =
  | "create-namespace"
  | "delete-namespace"
  | "relabel-namespace"
  | "add-serviceaccount"
  | "hand-edit-serviceaccount"
  | "edit-copy"
  | "delete-copy"
  | "rotate-source"
  | "reload-config"
  | "kill-restart"
  | "leader-failover";

export const OP_WEIGHTS: Record<OpKind, number> = {
  "create-namespace": 3,
  "delete-namespace": 2,
  "relabel-namespace": 3,
  "add-serviceaccount": 2,
  "hand-edit-serviceaccount": 1.5,
  "edit-copy": 2,
  "delete-copy": 2,
  "rotate-source": 1.5,
  "reload-config": 2,
  "kill-restart": 0.8,
  "leader-failover": 0.6,
};

export interface OpRecord {
  /** ms since the operations started. */
  at: number;
  kind: OpKind;
  detail: string;
}

interface NamespaceModel {
  fixed: boolean;
  labels: Record<string, string>;
}

/** Retries read-modify-write on 409 Conflict. */
async function retryConflict<T>(work: () => Promise<T>, attempts = 10): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await work();
    } catch (err) {
      if (statusCode(err) !== 409 || i >= attempts) throw err;
      await sleep(50 + i * 50);
    }
  }
}

export class Scenario {
  readonly core: k8s.CoreV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  readonly rnd: Random;
  readonly run: string;
  readonly src: string;
  readonly fleet: Fleet;
  readonly alphaConfig: string;
  readonly betaConfig: string;
  /** Fixed namespaces, by role. */
  readonly fx: { conflict: string; overlap: string; mirror: string; untouched: string };
  readonly namespaces = new Map<string, NamespaceModel>();
  /** "namespace/serviceaccount" → imagePullSecrets added by hand, in order. */
  readonly hand = new Map<string, string[]>();
  readonly foreign: ForeignRef[] = [];
  readonly ops: OpRecord[] = [];
  readonly takeovers: { how: string; ms: number | undefined }[] = [];
  readonly notes: string[] = [];
  #nextNamespace = 0;
  #nextSa = 0;
  #rotation = 0;
  #opsStarted = 0;
  // Config knobs the reload operation turns.
  alpha = { mirror: true, mirrorSecret: "mirror-pull", teamB: [] as string[] };
  beta = { cMirror: false };

  constructor(admin: k8s.KubeConfig, rnd: Random, run: string, dir: string) {
    this.core = admin.makeApiClient(k8s.CoreV1Api);
    this.coordination = admin.makeApiClient(k8s.CoordinationV1Api);
    this.rnd = rnd;
    this.run = run;
    this.src = `${run}-src`;
    this.fx = { conflict: `${run}-fx-conflict`, overlap: `${run}-fx-overlap`, mirror: `${run}-fx-mirror`, untouched: `${run}-fx-untouched` };
    this.alphaConfig = join(dir, "alpha", "config.yaml");
    this.betaConfig = join(dir, "beta", "config.yaml");
    this.fleet = new Fleet(admin, dir, this.src, `${run}-patchers`);
  }

  // -------------------------------------------------------------------------------------------
  // Configs
  // -------------------------------------------------------------------------------------------

  labels(extra: Record<string, string> = {}): Record<string, string> {
    return { [SOAK_LABEL]: this.run, ...extra };
  }

  alphaSpec(): InstanceSpec {
    const mappings: MappingSpec[] = [
      { name: "team-a", source: "regcred-a", secretName: "regcred", target: { kind: "labels", labels: this.labels({ team: "a" }) }, serviceAccounts: "default" },
      { name: "team-b", source: "regcred-b", secretName: "regcred", target: { kind: "list", names: [this.fx.overlap, ...this.alpha.teamB] }, serviceAccounts: "all" },
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
      { name: "team-c", source: "regcred-c", secretName: "regcred", target: { kind: "labels", labels: this.labels({ team: "c" }) }, serviceAccounts: "default" },
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

  writeConfigs(): void {
    writeAtomically(this.alphaConfig, renderConfig(this.alphaSpec(), this.src));
    writeAtomically(this.betaConfig, renderConfig(this.betaSpec(), this.src));
  }

  // -------------------------------------------------------------------------------------------
  // Setup
  // -------------------------------------------------------------------------------------------

  async #createNamespace(name: string, labels: Record<string, string>, fixed: boolean): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name, labels } } });
    this.namespaces.set(name, { fixed, labels: { ...labels } });
  }

  async #defaultSa(namespace: string): Promise<void> {
    await eventually(`default ServiceAccount in ${namespace}`, () => this.core.readNamespacedServiceAccount({ name: "default", namespace }).catch(() => undefined));
  }

  /** Sets a ServiceAccount's imagePullSecrets by hand (before any patcher runs). */
  async #handSet(namespace: string, name: string, entries: string[]): Promise<void> {
    await this.core.patchNamespacedServiceAccount({ name, namespace, body: [{ op: "add", path: "/imagePullSecrets", value: entries.map((n) => ({ name: n })) }] }, JSON_PATCH);
    this.hand.set(`${namespace}/${name}`, [...entries]);
  }

  async #foreignSecret(namespace: string, name: string, type: string, data: Record<string, string>, labels: Record<string, string> = {}): Promise<void> {
    await this.core.createNamespacedSecret({ namespace, body: { metadata: { name, labels, annotations: { owner: "someone-else" } }, type, data } });
    this.foreign.push({ kind: "Secret", namespace, name });
  }

  password(source: string): string {
    return `${TEST_PASSWORD_PREFIX}soak-${source}-${this.#rotation}`;
  }

  /** Source namespace and sources, fixed namespaces with foreign objects and hand entries, a few dynamic namespaces, and the config files. */
  async setup(): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name: this.src } } });
    for (const s of SOURCES) await putSourceSecret(this.core, this.src, s, this.password(s));

    // A Secret named like team-a's copy that someone else made: team-a must report a conflict and leave it alone.
    await this.#createNamespace(this.fx.conflict, this.labels({ team: "a" }), true);
    await this.#foreignSecret(this.fx.conflict, "regcred", "kubernetes.io/dockerconfigjson", { ".dockerconfigjson": b64(dockerConfigJson("not-ours", "other.example.test")) });
    // Claimed by alpha (team-b's list) and by beta (team=c): exactly one owner.
    await this.#createNamespace(this.fx.overlap, this.labels({ team: "c" }), true);
    // team=c and mirror=yes: beta's regcred; a foreign mirror-pull; an unrelated Secret.
    await this.#createNamespace(this.fx.mirror, this.labels({ team: "c", mirror: "yes" }), true);
    await this.#foreignSecret(this.fx.mirror, "mirror-pull", "Opaque", { token: b64("not-a-registry-credential") });
    await this.#foreignSecret(this.fx.mirror, "app-config", "Opaque", { "app.yaml": b64("replicas: 2") }, { app: "web" });
    // Selected by nothing: nothing in it may ever change.
    await this.#createNamespace(this.fx.untouched, this.labels(), true);
    await this.#foreignSecret(this.fx.untouched, "regcred", "kubernetes.io/dockerconfigjson", { ".dockerconfigjson": b64(dockerConfigJson("theirs-too", "other.example.test")) });

    for (const ns of [this.fx.conflict, this.fx.overlap, this.fx.mirror, this.fx.untouched]) await this.#defaultSa(ns);
    // Entries users added by hand. In fx-overlap the user already references "regcred".
    await this.#handSet(this.fx.conflict, "default", ["corp-pull"]);
    await this.#handSet(this.fx.overlap, "default", ["corp-pull", "regcred"]);
    await this.#handSet(this.fx.untouched, "default", ["corp-pull"]);
    await this.core.createNamespacedServiceAccount({ namespace: this.fx.overlap, body: { metadata: { name: "builder" }, imagePullSecrets: [{ name: "corp-pull" }] } });
    this.hand.set(`${this.fx.overlap}/builder`, ["corp-pull"]);
    await this.core.createNamespacedServiceAccount({ namespace: this.fx.untouched, body: { metadata: { name: "robot" }, imagePullSecrets: [{ name: "corp-pull" }, { name: "regcred" }] } });
    this.hand.set(`${this.fx.untouched}/robot`, ["corp-pull", "regcred"]);
    this.foreign.push({ kind: "ServiceAccount", namespace: this.fx.untouched, name: "robot" }, { kind: "ServiceAccount", namespace: this.fx.untouched, name: "default" });

    for (let i = 0; i < 4; i++) await this.#createDynamic();
    this.alpha.teamB = this.#dynamicNames()
      .filter(() => this.rnd.chance(0.5))
      .concat(this.#futureName());
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
    const lease = await this.coordination.readNamespacedLease({ name: LEASE_NAME, namespace: this.src }).catch(() => undefined);
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

  // -------------------------------------------------------------------------------------------
  // Operations
  // -------------------------------------------------------------------------------------------

  #dynamicNames(): string[] {
    return [...this.namespaces.entries()].filter(([, m]) => !m.fixed).map(([n]) => n);
  }

  #futureName(): string {
    return `${this.run}-d${this.#nextNamespace + this.rnd.int(0, 3)}`;
  }

  #randomLabels(): Record<string, string> {
    const extra: Record<string, string> = {};
    const team = this.rnd.pick(["a", "c", "", ""]);
    if (team) extra.team = team;
    if (this.rnd.chance(0.4)) extra.mirror = "yes";
    return this.labels(extra);
  }

  async #createDynamic(): Promise<string> {
    const name = `${this.run}-d${this.#nextNamespace++}`;
    await this.#createNamespace(name, this.#randomLabels(), false);
    return name;
  }

  /** Namespaces that exist (in the model), fixed ones included. */
  #live(): string[] {
    return [...this.namespaces.keys()];
  }

  async runOp(kind: OpKind): Promise<void> {
    if (!this.#opsStarted) this.#opsStarted = Date.now();
    const at = Date.now() - this.#opsStarted;
    let detail: string;
    try {
      detail = await this.#op(kind);
    } catch (err) {
      detail = `failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
    }
    this.ops.push({ at, kind, detail });
  }

  async #op(kind: OpKind): Promise<string> {
    const r = this.rnd;
    switch (kind) {
      case "create-namespace": {
        if (this.#dynamicNames().length >= 12) return "skipped: 12 dynamic namespaces exist";
        const name = await this.#createDynamic();
        return `${name} ${JSON.stringify(this.namespaces.get(name)?.labels)}`;
      }
      case "delete-namespace": {
        const names = this.#dynamicNames();
        if (names.length <= 3) return "skipped: keeping at least 3 dynamic namespaces";
        const name = r.pick(names);
        await this.core.deleteNamespace({ name });
        this.namespaces.delete(name);
        for (const key of [...this.hand.keys()]) if (key.startsWith(`${name}/`)) this.hand.delete(key);
        return name;
      }
      case "relabel-namespace": {
        const names = this.#dynamicNames();
        if (!names.length) return "skipped: no dynamic namespace";
        const name = r.pick(names);
        const labels = this.#randomLabels();
        const model = this.namespaces.get(name);
        await retryConflict(async () => {
          const ns = await this.core.readNamespace({ name });
          const current = { ...(ns.metadata?.labels ?? {}) };
          delete current.team;
          delete current.mirror;
          await this.core.replaceNamespace({ name, body: { ...ns, metadata: { ...ns.metadata, labels: { ...current, ...labels } } } });
        });
        const before = JSON.stringify(model?.labels);
        if (model) model.labels = labels;
        return `${name} ${before} → ${JSON.stringify(labels)}`;
      }
      case "add-serviceaccount": {
        const namespace = r.pick(this.#live().filter((n) => n !== this.fx.untouched));
        const name = r.chance(0.4) ? "builder" : `sa-${this.#nextSa++}`;
        const hand = r.chance(0.4) ? [r.pick(["corp-pull", "team-pull"])] : [];
        try {
          await this.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name }, imagePullSecrets: hand.map((n) => ({ name: n })) } });
        } catch (err) {
          if (statusCode(err) === 409) return `skipped: ${namespace}/${name} exists`;
          throw err;
        }
        if (hand.length) this.hand.set(`${namespace}/${name}`, hand);
        return `${namespace}/${name} [${hand.join(",")}]`;
      }
      case "hand-edit-serviceaccount": {
        const namespace = r.pick(this.#live().filter((n) => n !== this.fx.untouched));
        const list = await this.core.listNamespacedServiceAccount({ namespace });
        const names = list.items.map((s) => s.metadata?.name ?? "").sort();
        if (!names.length) return `skipped: no ServiceAccount in ${namespace}`;
        const name = r.pick(names);
        const key = `${namespace}/${name}`;
        const addHand = r.chance(0.5);
        const userEntry = `user-${r.int(0, 99)}`;
        let detail = "";
        await retryConflict(async () => {
          const sa = await this.core.readNamespacedServiceAccount({ name, namespace });
          const entries = (sa.imagePullSecrets ?? []).map((e) => e.name ?? "");
          const hand = this.hand.get(key) ?? [];
          let next: string[];
          if (addHand) {
            if (entries.includes(userEntry)) {
              detail = `skipped: ${key} has ${userEntry}`;
              return;
            }
            next = [...entries, userEntry];
            detail = `${key} user adds ${userEntry}`;
          } else {
            // The user removes an entry the patcher added (never one of their own).
            const ours = entries.filter((e) => !hand.includes(e));
            if (!ours.length) {
              detail = `skipped: ${key} has no patcher entry`;
              return;
            }
            const drop = r.pick(ours);
            next = entries.filter((e) => e !== drop);
            detail = `${key} user removes ${drop}`;
          }
          await this.core.replaceNamespacedServiceAccount({ name, namespace, body: { ...sa, imagePullSecrets: next.map((n) => ({ name: n })) } });
          if (addHand) this.hand.set(key, [...hand, userEntry]);
        });
        return detail;
      }
      case "edit-copy":
      case "delete-copy": {
        const namespace = r.pick(this.#live());
        const name = r.pick(["regcred", "regcred", this.alpha.mirrorSecret, "mirror-pull"]);
        const tamper = r.pick(["data", "data", "label"]);
        let detail = "";
        await retryConflict(async () => {
          const s = await this.core.readNamespacedSecret({ name, namespace }).catch((err: unknown) => {
            if (statusCode(err) === 404) return undefined;
            throw err;
          });
          if (!s) {
            detail = `skipped: no ${namespace}/${name}`;
            return;
          }
          if (s.metadata?.labels?.[MANAGED_BY] !== "imagepullsecret-patcher") {
            detail = `skipped: ${namespace}/${name} is not a copy`;
            return;
          }
          if (kind === "delete-copy") {
            await this.core.deleteNamespacedSecret({ name, namespace, body: { preconditions: { uid: s.metadata?.uid } } });
            detail = `${namespace}/${name} (owner ${s.metadata?.labels?.["imagepullsecret-patcher.io/instance"]})`;
          } else if (tamper === "data") {
            const body = { ...s, data: { ".dockerconfigjson": b64(dockerConfigJson(`${TEST_PASSWORD_PREFIX}tampered-${r.int(0, 999)}`)) } };
            await this.core.replaceNamespacedSecret({ name, namespace, body });
            detail = `${namespace}/${name} data overwritten`;
          } else {
            const body = { ...s, metadata: { ...s.metadata, labels: { ...(s.metadata?.labels ?? {}), "user-note": `n${r.int(0, 99)}` } } };
            await this.core.replaceNamespacedSecret({ name, namespace, body });
            detail = `${namespace}/${name} user label added`;
          }
        });
        return detail;
      }
      case "rotate-source": {
        const source = r.pick(SOURCES);
        this.#rotation++;
        await putSourceSecret(this.core, this.src, source, this.password(source));
        return `${source} → rotation ${this.#rotation}`;
      }
      case "reload-config": {
        const change = r.pick(["mirror-toggle", "mirror-secret-name", "team-b-list", "team-b-list", "beta-c-mirror"] as const);
        let detail: string;
        if (change === "mirror-toggle") {
          this.alpha.mirror = !this.alpha.mirror;
          detail = `alpha: mapping mirror ${this.alpha.mirror ? "added" : "removed"}`;
        } else if (change === "mirror-secret-name") {
          this.alpha.mirrorSecret = this.alpha.mirrorSecret === "mirror-pull" ? "mirror-pull-v2" : "mirror-pull";
          detail = `alpha: mirror.secretName → ${this.alpha.mirrorSecret}${this.alpha.mirror ? "" : " (mapping absent)"}`;
        } else if (change === "team-b-list") {
          const candidates = this.#dynamicNames().filter((n) => !this.alpha.teamB.includes(n));
          if (this.alpha.teamB.length && (r.chance(0.5) || !candidates.length)) {
            const drop = r.pick(this.alpha.teamB);
            this.alpha.teamB = this.alpha.teamB.filter((n) => n !== drop);
            detail = `alpha: team-b list drops ${drop}`;
          } else {
            const add = candidates.length ? r.pick(candidates) : this.#futureName();
            this.alpha.teamB = [...this.alpha.teamB, add];
            detail = `alpha: team-b list adds ${add}`;
          }
        } else {
          this.beta.cMirror = !this.beta.cMirror;
          detail = `beta: mapping c-mirror ${this.beta.cMirror ? "added" : "removed"}`;
        }
        this.writeConfigs();
        return detail;
      }
      case "kill-restart": {
        const id = r.pick([...ALPHA_MEMBERS, BETA_MEMBER]);
        const pause = r.int(0, 3000);
        await this.fleet.kill(id);
        await sleep(pause);
        await this.fleet.start(id);
        return `${id} SIGKILLed, restarted after ${pause} ms`;
      }
      case "leader-failover": {
        const holder = await this.leaseHolder();
        if (!holder || !this.fleet.running().some((m) => m.id === holder)) return `skipped: no running leader (lease holder ${holder ?? "none"})`;
        const graceful = r.chance(0.5);
        const started = Date.now();
        if (graceful) await this.fleet.stop(holder);
        else await this.fleet.kill(holder);
        const next = await eventually(
          "the other replica to take the lease",
          async () => {
            const h = await this.leaseHolder();
            return h && h !== holder ? h : undefined;
          },
          20_000,
        ).catch(() => undefined);
        const ms = next ? Date.now() - started : undefined;
        this.takeovers.push({ how: graceful ? "SIGTERM" : "SIGKILL", ms });
        await this.fleet.start(holder);
        return `${holder} ${graceful ? "stopped (SIGTERM)" : "SIGKILLed"}; ${next ? `${next} took over in ${ms} ms` : "no takeover within 20 s"}; ${holder} restarted`;
      }
    }
  }

  /** Every member running again, and alpha with a leader. */
  async restoreFleet(): Promise<void> {
    for (const id of [...ALPHA_MEMBERS, BETA_MEMBER]) await this.fleet.start(id);
    await this.leaderReady(60_000);
  }

  async cleanup(): Promise<void> {
    await this.fleet.stopAll();
    await this.fleet.deprovision();
    const all = await this.core.listNamespace({ labelSelector: `${SOAK_LABEL}=${this.run}` });
    const names = [this.src, ...all.items.map((n) => n.metadata?.name ?? "")];
    await Promise.all(names.map((name) => this.core.deleteNamespace({ name }).catch(() => undefined)));
  }
}
