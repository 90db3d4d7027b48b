// The soak's random operations. Each returns a line for the report; the order of random draws
// inside each is part of a seed's replay, so keep it when changing one.
import { b64, dockerConfigJson, putSourceSecret, sleep, TEST_PASSWORD_PREFIX } from "../support/fixtures.ts";
import { eventually, statusCode } from "../support/kube.ts";
import { withRetry } from "../support/retry.ts";
import { ALPHA_MEMBERS, BETA_MEMBER, SOURCES } from "./model.ts";
import type { Scenario } from "./scenario.ts";

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

const MANAGED_BY = "app.kubernetes.io/managed-by";

/** Retries read-modify-write on 409 Conflict. */
function retryConflict<T>(work: () => Promise<T>): Promise<T> {
  return withRetry(work, {
    attempts: 11,
    retryable: (err) => statusCode(err) === 409,
    delayMs: (attempt) => 50 * attempt,
  });
}

async function createNamespace(s: Scenario): Promise<string> {
  if (s.dynamicNames().length >= 12) return "skipped: 12 dynamic namespaces exist";
  const name = await s.createDynamic();
  return `${name} ${JSON.stringify(s.namespaces.get(name)?.labels)}`;
}

async function deleteNamespace(s: Scenario): Promise<string> {
  const names = s.dynamicNames();
  if (names.length <= 3) return "skipped: keeping at least 3 dynamic namespaces";
  const name = s.rnd.pick(names);
  await s.core.deleteNamespace({ name });
  s.namespaces.delete(name);
  for (const key of [...s.hand.keys()]) if (key.startsWith(`${name}/`)) s.hand.delete(key);
  return name;
}

async function relabelNamespace(s: Scenario): Promise<string> {
  const names = s.dynamicNames();
  if (!names.length) return "skipped: no dynamic namespace";
  const name = s.rnd.pick(names);
  const labels = s.randomLabels();
  const model = s.namespaces.get(name);
  await retryConflict(async () => {
    const ns = await s.core.readNamespace({ name });
    const current = { ...(ns.metadata?.labels ?? {}) };
    delete current.team;
    delete current.mirror;
    await s.core.replaceNamespace({
      name,
      body: { ...ns, metadata: { ...ns.metadata, labels: { ...current, ...labels } } },
    });
  });
  const before = JSON.stringify(model?.labels);
  if (model) model.labels = labels;
  return `${name} ${before} → ${JSON.stringify(labels)}`;
}

async function addServiceAccount(s: Scenario): Promise<string> {
  const r = s.rnd;
  const namespace = r.pick(s.live().filter((n) => n !== s.fx.untouched));
  const name = r.chance(0.4) ? "builder" : `sa-${s.nextServiceAccount++}`;
  const hand = r.chance(0.4) ? [r.pick(["corp-pull", "team-pull"])] : [];
  try {
    await s.core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name }, imagePullSecrets: hand.map((n) => ({ name: n })) },
    });
  } catch (err) {
    if (statusCode(err) === 409) return `skipped: ${namespace}/${name} exists`;
    throw err;
  }
  if (hand.length) s.hand.set(`${namespace}/${name}`, hand);
  return `${namespace}/${name} [${hand.join(",")}]`;
}

/** The entries after the user's edit, or why there is none: add their own entry, or drop one the patcher added. */
function userEdit(
  s: Scenario,
  key: string,
  entries: string[],
  edit: { addHand: boolean; userEntry: string },
): { next?: string[]; detail: string } {
  if (edit.addHand) {
    if (entries.includes(edit.userEntry)) return { detail: `skipped: ${key} has ${edit.userEntry}` };
    return { next: [...entries, edit.userEntry], detail: `${key} user adds ${edit.userEntry}` };
  }
  // The user removes an entry the patcher added (never one of their own).
  const hand = s.hand.get(key) ?? [];
  const ours = entries.filter((e) => !hand.includes(e));
  if (!ours.length) return { detail: `skipped: ${key} has no patcher entry` };
  const drop = s.rnd.pick(ours);
  return { next: entries.filter((e) => e !== drop), detail: `${key} user removes ${drop}` };
}

async function handEditServiceAccount(s: Scenario): Promise<string> {
  const r = s.rnd;
  const namespace = r.pick(s.live().filter((n) => n !== s.fx.untouched));
  const list = await s.core.listNamespacedServiceAccount({ namespace });
  const names = list.items.map((sa) => sa.metadata?.name ?? "").sort();
  if (!names.length) return `skipped: no ServiceAccount in ${namespace}`;
  const name = r.pick(names);
  const key = `${namespace}/${name}`;
  const edit = { addHand: r.chance(0.5), userEntry: `user-${r.int(0, 99)}` };
  let detail = "";
  await retryConflict(async () => {
    const sa = await s.core.readNamespacedServiceAccount({ name, namespace });
    const result = userEdit(
      s,
      key,
      (sa.imagePullSecrets ?? []).map((e) => e.name ?? ""),
      edit,
    );
    detail = result.detail;
    if (!result.next) return;
    await s.core.replaceNamespacedServiceAccount({
      name,
      namespace,
      body: { ...sa, imagePullSecrets: result.next.map((n) => ({ name: n })) },
    });
    if (edit.addHand) s.hand.set(key, [...(s.hand.get(key) ?? []), edit.userEntry]);
  });
  return detail;
}

async function tamperCopy(s: Scenario, kind: "edit-copy" | "delete-copy"): Promise<string> {
  const r = s.rnd;
  const namespace = r.pick(s.live());
  const name = r.pick(["regcred", "regcred", s.alpha.mirrorSecret, "mirror-pull"]);
  const tamper = r.pick(["data", "data", "label"]);
  let detail = "";
  await retryConflict(async () => {
    const secret = await s.core.readNamespacedSecret({ name, namespace }).catch((err: unknown) => {
      if (statusCode(err) === 404) return undefined;
      throw err;
    });
    if (!secret) {
      detail = `skipped: no ${namespace}/${name}`;
      return;
    }
    if (secret.metadata?.labels?.[MANAGED_BY] !== "imagepullsecret-patcher") {
      detail = `skipped: ${namespace}/${name} is not a copy`;
      return;
    }
    if (kind === "delete-copy") {
      await s.core.deleteNamespacedSecret({ name, namespace, body: { preconditions: { uid: secret.metadata?.uid } } });
      detail = `${namespace}/${name} (owner ${secret.metadata?.labels?.["imagepullsecret-patcher.io/instance"]})`;
    } else if (tamper === "data") {
      const body = {
        ...secret,
        data: { ".dockerconfigjson": b64(dockerConfigJson(`${TEST_PASSWORD_PREFIX}tampered-${r.int(0, 999)}`)) },
      };
      await s.core.replaceNamespacedSecret({ name, namespace, body });
      detail = `${namespace}/${name} data overwritten`;
    } else {
      const body = {
        ...secret,
        metadata: {
          ...secret.metadata,
          labels: { ...(secret.metadata?.labels ?? {}), "user-note": `n${r.int(0, 99)}` },
        },
      };
      await s.core.replaceNamespacedSecret({ name, namespace, body });
      detail = `${namespace}/${name} user label added`;
    }
  });
  return detail;
}

async function rotateSource(s: Scenario): Promise<string> {
  const source = s.rnd.pick(SOURCES);
  s.rotation++;
  await putSourceSecret(s.core, s.src, source, s.password(source));
  return `${source} → rotation ${s.rotation}`;
}

/** team-b's namespace list drops one name or adds one (possibly a namespace still to come). */
function changeTeamB(s: Scenario): string {
  const r = s.rnd;
  const candidates = s.dynamicNames().filter((n) => !s.alpha.teamB.includes(n));
  if (s.alpha.teamB.length && (r.chance(0.5) || !candidates.length)) {
    const drop = r.pick(s.alpha.teamB);
    s.alpha.teamB = s.alpha.teamB.filter((n) => n !== drop);
    return `alpha: team-b list drops ${drop}`;
  }
  const add = candidates.length ? r.pick(candidates) : s.futureName();
  s.alpha.teamB = [...s.alpha.teamB, add];
  return `alpha: team-b list adds ${add}`;
}

function reloadConfig(s: Scenario): Promise<string> {
  const change = s.rnd.pick([
    "mirror-toggle",
    "mirror-secret-name",
    "team-b-list",
    "team-b-list",
    "beta-c-mirror",
  ] as const);
  let detail: string;
  if (change === "mirror-toggle") {
    s.alpha.mirror = !s.alpha.mirror;
    detail = `alpha: mapping mirror ${s.alpha.mirror ? "added" : "removed"}`;
  } else if (change === "mirror-secret-name") {
    s.alpha.mirrorSecret = s.alpha.mirrorSecret === "mirror-pull" ? "mirror-pull-v2" : "mirror-pull";
    detail = `alpha: mirror.secretName → ${s.alpha.mirrorSecret}${s.alpha.mirror ? "" : " (mapping absent)"}`;
  } else if (change === "team-b-list") {
    detail = changeTeamB(s);
  } else {
    s.beta.cMirror = !s.beta.cMirror;
    detail = `beta: mapping c-mirror ${s.beta.cMirror ? "added" : "removed"}`;
  }
  s.writeConfigs();
  return Promise.resolve(detail);
}

async function killRestart(s: Scenario): Promise<string> {
  const id = s.rnd.pick([...ALPHA_MEMBERS, BETA_MEMBER]);
  const pause = s.rnd.int(0, 3000);
  await s.fleet.kill(id);
  await sleep(pause);
  await s.fleet.start(id);
  return `${id} SIGKILLed, restarted after ${pause} ms`;
}

async function leaderFailover(s: Scenario): Promise<string> {
  const holder = await s.leaseHolder();
  if (!holder || !s.fleet.running().some((m) => m.id === holder))
    return `skipped: no running leader (lease holder ${holder ?? "none"})`;
  const graceful = s.rnd.chance(0.5);
  const started = Date.now();
  if (graceful) await s.fleet.stop(holder);
  else await s.fleet.kill(holder);
  const next = await eventually(
    "the other replica to take the lease",
    async () => {
      const h = await s.leaseHolder();
      return h && h !== holder ? h : undefined;
    },
    20_000,
  ).catch(() => undefined);
  const ms = next ? Date.now() - started : undefined;
  s.takeovers.push({ how: graceful ? "SIGTERM" : "SIGKILL", ms });
  await s.fleet.start(holder);
  return `${holder} ${graceful ? "stopped (SIGTERM)" : "SIGKILLed"}; ${next ? `${next} took over in ${ms} ms` : "no takeover within 20 s"}; ${holder} restarted`;
}

export const OPERATIONS: Record<OpKind, (s: Scenario) => Promise<string>> = {
  "create-namespace": createNamespace,
  "delete-namespace": deleteNamespace,
  "relabel-namespace": relabelNamespace,
  "add-serviceaccount": addServiceAccount,
  "hand-edit-serviceaccount": handEditServiceAccount,
  "edit-copy": (s) => tamperCopy(s, "edit-copy"),
  "delete-copy": (s) => tamperCopy(s, "delete-copy"),
  "rotate-source": rotateSource,
  "reload-config": reloadConfig,
  "kill-restart": killRestart,
  "leader-failover": leaderFailover,
};
