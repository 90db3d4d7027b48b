// The soak's starting point: the sources, fixed namespaces holding objects the patchers do not
// own and entries users added by hand, and a few dynamic namespaces.
import * as k8s from "@kubernetes/client-node";
import { b64, dockerConfigJson, putSourceSecret } from "../support/fixtures.ts";
import { eventually } from "../support/kube.ts";
import { SOURCES } from "./model.ts";
import type { Scenario } from "./scenario.ts";

const JSON_PATCH = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch);

async function defaultServiceAccount(s: Scenario, namespace: string): Promise<void> {
  await eventually(`default ServiceAccount in ${namespace}`, () =>
    s.core.readNamespacedServiceAccount({ name: "default", namespace }).catch(() => undefined),
  );
}

/** Sets a ServiceAccount's imagePullSecrets by hand (before any patcher runs). */
async function handSet(s: Scenario, namespace: string, name: string, entries: string[]): Promise<void> {
  await s.core.patchNamespacedServiceAccount(
    { name, namespace, body: [{ op: "add", path: "/imagePullSecrets", value: entries.map((n) => ({ name: n })) }] },
    JSON_PATCH,
  );
  s.hand.set(`${namespace}/${name}`, [...entries]);
}

/** A ServiceAccount created by hand with its own entries. */
async function handCreate(s: Scenario, namespace: string, name: string, entries: string[]): Promise<void> {
  await s.core.createNamespacedServiceAccount({
    namespace,
    body: { metadata: { name }, imagePullSecrets: entries.map((n) => ({ name: n })) },
  });
  s.hand.set(`${namespace}/${name}`, [...entries]);
}

async function fixedNamespaces(s: Scenario): Promise<void> {
  const { fx } = s;
  // A Secret named like team-a's copy that someone else made: team-a must report a conflict and leave it alone.
  await s.createNamespace(fx.conflict, s.labels({ team: "a" }), true);
  await s.foreignSecret(fx.conflict, "regcred", "kubernetes.io/dockerconfigjson", {
    ".dockerconfigjson": b64(dockerConfigJson("not-ours", "other.example.test")),
  });
  // Claimed by alpha (team-b's list) and by beta (team=c): exactly one owner.
  await s.createNamespace(fx.overlap, s.labels({ team: "c" }), true);
  // team=c and mirror=yes: beta's regcred; a foreign mirror-pull; an unrelated Secret.
  await s.createNamespace(fx.mirror, s.labels({ team: "c", mirror: "yes" }), true);
  await s.foreignSecret(fx.mirror, "mirror-pull", "Opaque", { token: b64("not-a-registry-credential") });
  await s.foreignSecret(fx.mirror, "app-config", "Opaque", { "app.yaml": b64("replicas: 2") }, { app: "web" });
  // Selected by nothing: nothing in it may ever change.
  await s.createNamespace(fx.untouched, s.labels(), true);
  await s.foreignSecret(fx.untouched, "regcred", "kubernetes.io/dockerconfigjson", {
    ".dockerconfigjson": b64(dockerConfigJson("theirs-too", "other.example.test")),
  });
  for (const ns of [fx.conflict, fx.overlap, fx.mirror, fx.untouched]) await defaultServiceAccount(s, ns);
}

async function handEntries(s: Scenario): Promise<void> {
  const { fx } = s;
  // In fx-overlap the user already references "regcred".
  await handSet(s, fx.conflict, "default", ["corp-pull"]);
  await handSet(s, fx.overlap, "default", ["corp-pull", "regcred"]);
  await handSet(s, fx.untouched, "default", ["corp-pull"]);
  await handCreate(s, fx.overlap, "builder", ["corp-pull"]);
  await handCreate(s, fx.untouched, "robot", ["corp-pull", "regcred"]);
  s.foreign.push(
    { kind: "ServiceAccount", namespace: fx.untouched, name: "robot" },
    { kind: "ServiceAccount", namespace: fx.untouched, name: "default" },
  );
}

/** Everything before the patchers start; the order of random draws is part of a seed's replay. */
export async function createFixtures(s: Scenario): Promise<void> {
  await s.core.createNamespace({ body: { metadata: { name: s.src } } });
  for (const source of SOURCES) await putSourceSecret(s.core, s.src, source, s.password(source));
  await fixedNamespaces(s);
  await handEntries(s);
  for (let i = 0; i < 4; i++) await s.createDynamic();
  s.alpha.teamB = s
    .dynamicNames()
    .filter(() => s.rnd.chance(0.5))
    .concat(s.futureName());
}
