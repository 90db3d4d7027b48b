import type { SourceValue } from "../plugins/contracts.js";
import type { PatchStrategy, TargetSelector } from "../plugins/contracts.js";
import { DOCKER_CONFIG_JSON_KEY, DOCKER_CONFIG_JSON_TYPE } from "../kube/views.js";
import { OPT_OUT_ANNOTATION, hasOptOutAnnotation, selects } from "../selectors/opt-out.js";
import type { CachedNamespace, CachedSecret, CachedServiceAccount } from "../kube/views.js";
import {
  ADOPT_ANNOTATION,
  INSTANCE_LABEL,
  MAPPING_LABEL,
  addedRecord,
  ownerOf,
  type AddedRecord,
  type SecretOwner,
} from "./ownership.js";

/** What to do with a same-name Secret the patcher does not own: `skip`, `adopt` or `overwrite`. */
export type ConflictPolicy = "skip" | "adopt" | "overwrite";

/** What the planner needs to know about a mapping. */
export interface MappingPolicy {
  readonly name: string;
  readonly secretName: string;
  readonly selector: TargetSelector;
  readonly strategy: PatchStrategy;
  readonly conflictPolicy: ConflictPolicy;
  /** False for a mapping removed from config: its copies and entries are cleaned up (or retained). */
  readonly active: boolean;
}

/** Everything `planKey` reads: one (mapping, namespace) key over cached state. */
export interface KeyState {
  readonly mapping: MappingPolicy;
  readonly instance: string;
  readonly namespaceName: string;
  readonly namespace: CachedNamespace | undefined;
  readonly credential: SourceValue | undefined;
  /** Secrets read by every configured source (of any mapping); no copy ever overwrites them. */
  readonly sourceSecrets: readonly { namespace: string; name: string }[];
  /** The Secret named `mapping.secretName` in this namespace, whoever owns it. */
  readonly secret: CachedSecret | undefined;
  readonly serviceAccounts: readonly CachedServiceAccount[];
  /** Another active mapping that also selects this namespace with the same secretName and wins. */
  readonly claimedBy: string | undefined;
  /** Removed mappings leave their objects in place when true. */
  readonly retainOnRemoval: boolean;
}

export type SecretAction =
  | { type: "create-secret"; adopt: false }
  | { type: "update-secret"; resourceVersion: string; adopt: boolean }
  | { type: "recreate-secret"; uid: string; adopt: boolean }
  | { type: "delete-secret"; uid: string; resourceVersion: string };

export type ServiceAccountAction =
  | { type: "add-reference"; serviceAccount: CachedServiceAccount }
  | { type: "remove-reference"; serviceAccount: CachedServiceAccount }
  /** The entry is there; only the record of who added it changes (a handover, or a record without owner). */
  | { type: "claim-reference"; serviceAccount: CachedServiceAccount };

/** One write a plan asks for: a Secret action or a ServiceAccount reference change. */
export type Action = SecretAction | ServiceAccountAction;

/**
 * - `in-sync`: nothing to do; `changes`: actions to apply;
 * - `out-of-scope`: not selected (cleanup actions, if any);
 * - `conflict`: a Secret or another mapping stops us; never written;
 * - `waiting`: no valid credential yet, or the copy is being deleted;
 * - `skipped`: the namespace is gone or terminating, or the target is the source itself.
 */
export type Outcome = "in-sync" | "changes" | "out-of-scope" | "conflict" | "waiting" | "skipped";

/** What {@link planKey} decided for one key: an outcome, the writes, and why. */
export interface Plan {
  readonly outcome: Outcome;
  readonly actions: readonly Action[];
  /** Why, in words for logs, Events and `plan` output. Never contains credential bytes. */
  readonly reason: string;
}

function plan(outcome: Outcome, reason: string, actions: Action[] = []): Plan {
  return { outcome, actions, reason };
}

/**
 * Whether `record` is this mapping's: written by this instance and mapping, or (a record without
 * owner, from an older version) for a copy this mapping owns in the namespace.
 */
function ownsRecord(state: KeyState, record: AddedRecord | undefined, copyOwner: SecretOwner): boolean {
  if (!record) return false;
  if (record.instance !== undefined) return record.instance === state.instance && record.mapping === state.mapping.name;
  return (
    copyOwner.kind === "mapping" && copyOwner.instance === state.instance && copyOwner.mapping === state.mapping.name
  );
}

function cleanup(state: KeyState, reason: string): Plan {
  const { mapping, secret } = state;
  if (!mapping.active && state.retainOnRemoval) return plan("out-of-scope", `${reason}; kept (retain on removal)`);
  // Another mapping of this instance writes this name here now: it takes the copy and the entries
  // over in place, so nothing is deleted and re-created.
  if (state.claimedBy) return plan("out-of-scope", `${reason}; handed over to mapping ${state.claimedBy}`);
  const actions: Action[] = [];
  const owner = ownerOf(secret);
  const ours = owner.kind === "mapping" && owner.mapping === mapping.name && owner.instance === state.instance;
  if (secret && ours && !secret.deleting) {
    actions.push({ type: "delete-secret", uid: secret.uid, resourceVersion: secret.resourceVersion });
  }
  for (const sa of state.serviceAccounts) {
    if (ownsRecord(state, addedRecord(sa, mapping.secretName), owner))
      actions.push({ type: "remove-reference", serviceAccount: sa });
  }
  return plan("out-of-scope", actions.length ? `${reason}; cleaning up` : reason, actions);
}

/**
 * Decides what one (mapping, namespace) key needs, from cached state alone. Pure and idempotent:
 * the same state always gives the same plan, and an applied plan leads to an empty one.
 */
export function planKey(state: KeyState): Plan {
  const scoped = scope(state);
  if (scoped) return scoped;
  const copy = copyActions(state);
  if (!Array.isArray(copy)) return copy;
  const actions = [...copy, ...referenceActions(state)];
  return actions.length
    ? plan("changes", describe(actions), actions)
    : plan("in-sync", "copy and ServiceAccounts are up to date");
}

/** A plan for keys that write no copy: gone, terminating, a source, removed, opted out, not selected, contested, or no credential yet. */
function scope(state: KeyState): Plan | undefined {
  const { mapping, namespace } = state;
  if (!namespace) return plan("skipped", "namespace does not exist");
  if (namespace.phase === "Terminating") return plan("skipped", "namespace is terminating");
  const isSource = state.sourceSecrets.some((s) => s.namespace === namespace.name && s.name === mapping.secretName);
  if (isSource) {
    // Never written, never cleaned up; reported as skipped only where the mapping selects it.
    if (mapping.active && selects(mapping.selector, namespace)) {
      return plan(
        "skipped",
        `${namespace.name}/${mapping.secretName} is a configured source; no copy is written over it`,
      );
    }
    return plan(
      "out-of-scope",
      `not selected; ${namespace.name}/${mapping.secretName} is a configured source, left alone`,
    );
  }
  if (!mapping.active) return cleanup(state, `mapping ${mapping.name} was removed`);
  if (hasOptOutAnnotation(namespace)) return cleanup(state, `namespace opted out (${OPT_OUT_ANNOTATION}: "true")`);
  if (!mapping.selector.matches(namespace)) return cleanup(state, `not selected by ${mapping.selector.description}`);
  if (state.claimedBy) {
    return plan(
      "conflict",
      `mapping ${state.claimedBy} also writes Secret ${mapping.secretName} into this namespace and comes first in the config`,
    );
  }
  if (!state.credential) return plan("waiting", "the source has no valid credential yet");
  return undefined;
}

function contentDiffers(s: CachedSecret, hash: string): boolean {
  return s.dataHash !== hash || s.dataKeys.length !== 1 || s.dataKeys[0] !== DOCKER_CONFIG_JSON_KEY;
}

/** The write the copy needs, or a plan that stops here (being deleted, or someone else's). */
function copyActions(state: KeyState): Action[] | Plan {
  const { mapping, secret } = state;
  const hash = state.credential?.credential.hash ?? "";
  if (!secret) return [{ type: "create-secret", adopt: false }];
  if (secret.deleting) return plan("waiting", `Secret ${mapping.secretName} is being deleted`);
  const adopt = adoption(state, secret, hash);
  if (typeof adopt !== "boolean") return adopt;
  if (secret.type !== DOCKER_CONFIG_JSON_TYPE) return [{ type: "recreate-secret", uid: secret.uid, adopt }];
  const labelsDiffer =
    secret.labels[MAPPING_LABEL] !== mapping.name || secret.labels[INSTANCE_LABEL] !== state.instance;
  if (adopt || contentDiffers(secret, hash) || labelsDiffer)
    return [{ type: "update-secret", resourceVersion: secret.resourceVersion, adopt }];
  return [];
}

/** Whether the existing Secret is taken over by this write, or a conflict plan when it may not be. */
function adoption(state: KeyState, secret: CachedSecret, hash: string): boolean | Plan {
  const { mapping } = state;
  const owner = ownerOf(secret);
  switch (owner.kind) {
    case "foreign": {
      if (foreignAdoptable(mapping.conflictPolicy, secret, hash)) return true;
      const hint =
        mapping.conflictPolicy === "adopt"
          ? `its content differs; annotate it ${ADOPT_ANNOTATION}="true" to let the patcher take it over`
          : `conflictPolicy is ${mapping.conflictPolicy}`;
      return plan(
        "conflict",
        `Secret ${mapping.secretName} exists and is not managed by imagepullsecret-patcher; left alone (${hint})`,
      );
    }
    case "mapping":
      // Whoever wrote it first keeps it: the other instance is never overridden, so the two never flip-flop.
      if (owner.instance !== state.instance) {
        return plan(
          "conflict",
          `Secret ${mapping.secretName} belongs to patcher instance "${owner.instance}" (mapping ${owner.mapping}); left alone`,
        );
      }
      // A copy of this instance from a mapping that no longer writes here (this one comes first): taken over in place.
      return owner.mapping !== mapping.name;
    case "legacy":
      return true;
    default:
      return false;
  }
}

/** A same-name Secret of someone else may be taken over: always with `overwrite`; with `adopt` if it opted in or holds the same credential. */
function foreignAdoptable(policy: ConflictPolicy, secret: CachedSecret, hash: string): boolean {
  if (policy === "overwrite") return true;
  if (policy !== "adopt") return false;
  return (
    secret.annotations[ADOPT_ANNOTATION] === "true" ||
    (secret.type === DOCKER_CONFIG_JSON_TYPE && !contentDiffers(secret, hash))
  );
}

/**
 * This mapping is the one of its instance that writes this name here (others were handed over),
 * so every record of its instance for the name here is its to keep or drop: records of a mapping
 * it took over from, and records without owner from older versions. Another instance's records
 * are never touched.
 */
function referenceActions(state: KeyState): Action[] {
  const { mapping, namespace } = state;
  const actions: Action[] = [];
  if (!namespace) return actions;
  for (const sa of state.serviceAccounts) {
    const wanted = mapping.strategy.selects(sa, namespace);
    const present = sa.imagePullSecrets.includes(mapping.secretName);
    const record = addedRecord(sa, mapping.secretName);
    const ofThisInstance = !!record && (record.instance === undefined || record.instance === state.instance);
    const exact = !!record && record.instance === state.instance && record.mapping === mapping.name;
    if (wanted && !present) actions.push({ type: "add-reference", serviceAccount: sa });
    else if (wanted && ofThisInstance && !exact) actions.push({ type: "claim-reference", serviceAccount: sa });
    else if (!wanted && ofThisInstance) actions.push({ type: "remove-reference", serviceAccount: sa });
  }
  return actions;
}

function describe(actions: readonly Action[]): string {
  return actions.map((a) => ("serviceAccount" in a ? `${a.type} ${a.serviceAccount.name}` : a.type)).join(", ");
}
