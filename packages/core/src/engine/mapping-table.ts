import type { Logger } from "../logging/logger.js";
import type { SourceProvider, SourceValue } from "../plugins/contracts.js";
import type { CachedNamespace, CachedSecret, CachedServiceAccount } from "../kube/views.js";
import { selects } from "../selectors/opt-out.js";
import type { Mapping } from "./engine-types.js";
import { RETIRED_SEP, SEP, keyOf, retiredId } from "./keys.js";
import type { KeyState, MappingPolicy } from "./plan.js";
import { RetiredMappings } from "./retired.js";

/** The cached objects a key's state is built from. */
export interface KeyInputs {
  namespace(name: string): CachedNamespace | undefined;
  secret(namespace: string, name: string): CachedSecret | undefined;
  serviceAccountsIn(namespace: string): CachedServiceAccount[];
  /** The credential a mapping may write now (after verification, if any). */
  credential(mapping: Mapping): SourceValue | undefined;
}

/** The policy of a mapping removed from config (or of a former copy name): clean up, select nothing. */
function removedPolicy(name: string, secretName: string): MappingPolicy {
  return {
    name,
    secretName,
    selector: { description: "removed mapping", matches: () => false },
    strategy: { description: "removed mapping", selects: () => false },
    conflictPolicy: "skip",
    active: false,
  };
}

/**
 * The configured mappings, in config order, and the removed ones (or former copy names) still to
 * clean up. Knows which keys exist and builds the state {@link planKey} reads for one key.
 */
export class MappingTable {
  readonly instance: string;
  readonly retired: RetiredMappings;
  retainOnRemoval: boolean;
  #mappings: Mapping[] = [];
  readonly #onRetired: (secretName: string) => void;

  /** `onRetired` is called with the copy name of each newly retired entry, so it gets watched. */
  constructor(instance: string, retainOnRemoval: boolean, log: Logger, onRetired: (secretName: string) => void) {
    this.instance = instance;
    this.retainOnRemoval = retainOnRemoval;
    this.retired = new RetiredMappings(log);
    this.#onRetired = onRetired;
  }

  get mappings(): readonly Mapping[] {
    return this.#mappings;
  }

  /**
   * Replaces the mappings. Removed mappings, and names a mapping no longer writes, are retired;
   * entries configured again are not. Returns the sources no mapping uses any more.
   */
  replace(mappings: readonly Mapping[], retainOnRemoval?: boolean): SourceProvider[] {
    validateNames(mappings);
    if (retainOnRemoval !== undefined) this.retainOnRemoval = retainOnRemoval;
    const next = new Map(mappings.map((m) => [m.name, m]));
    const previous = this.#mappings;
    this.#mappings = [...mappings];
    for (const old of previous) {
      const now = next.get(old.name);
      if (!now || now.secretName !== old.secretName) this.retire(old.name, old.secretName);
    }
    for (const m of mappings) this.retired.delete(retiredId(m.name, m.secretName));
    const sources = new Set(mappings.map((m) => m.source));
    return [...new Set(previous.map((m) => m.source))].filter((s) => !sources.has(s));
  }

  /** Tracks (mapping, copy name) for cleanup when no configured mapping writes that name any more. */
  retire(name: string, secretName: string): boolean {
    if (this.#mappings.some((m) => m.name === name && m.secretName === secretName)) return false;
    if (!this.retired.add(name, secretName)) return false;
    this.#onRetired(secretName);
    return true;
  }

  /** Every key id: configured mappings first, then retired entries. */
  ids(): string[] {
    return [...this.#mappings.map((m) => m.name), ...this.retired.keys()];
  }

  /** Ids whose keys are about copies of this name. */
  idsWriting(secretName: string): string[] {
    const active = this.#mappings.filter((m) => m.secretName === secretName).map((m) => m.name);
    const retired = [...this.retired].filter(([, r]) => r.secretName === secretName).map(([id]) => id);
    return [...active, ...retired];
  }

  /** Ids of the mappings reading `source`. */
  idsReading(source: SourceProvider): string[] {
    return this.#mappings.filter((m) => m.source === source).map((m) => m.name);
  }

  /** Copy names some configured or retired entry still needs watched. */
  namesInUse(): Set<string> {
    return new Set([
      ...this.#mappings.map((m) => m.secretName),
      ...[...this.retired.values()].map((r) => r.secretName),
    ]);
  }

  /** Every key of one namespace. */
  keysOf(namespace: string): string[] {
    return this.ids().map((id) => keyOf(id, namespace));
  }

  /** Secrets read by every configured source; no copy ever overwrites any of them. */
  sourceSecrets(): { namespace: string; name: string }[] {
    return this.#mappings.flatMap((m) => m.source.secretsRead ?? []);
  }

  /** The state of one key, or `undefined` when the id is neither configured nor retired. */
  keyState(id: string, namespaceName: string, inputs: KeyInputs): KeyState | undefined {
    const active = this.#mappings.find((m) => m.name === id);
    const retired = active ? undefined : this.retired.get(id);
    if (!active && !retired) return undefined;
    const policy: MappingPolicy = active
      ? { ...pick(active), active: true }
      : removedPolicy(retired?.name ?? id, retired?.secretName ?? "");
    const namespace = inputs.namespace(namespaceName);
    const sourceSecrets = this.sourceSecrets();
    const claimant = namespace ? this.#claimant(namespace, policy.secretName, sourceSecrets) : undefined;
    return {
      mapping: policy,
      instance: this.instance,
      namespaceName,
      namespace,
      credential: active ? inputs.credential(active) : undefined,
      sourceSecrets,
      secret: inputs.secret(namespaceName, policy.secretName),
      serviceAccounts: inputs.serviceAccountsIn(namespaceName),
      claimedBy: claimant && (claimant !== policy.name || !active) ? claimant : undefined,
      retainOnRemoval: this.retainOnRemoval,
    };
  }

  /** The winning mapping for (namespace, secretName): the first in config order that selects it. */
  #claimant(
    namespace: CachedNamespace,
    secretName: string,
    sourceSecrets: { namespace: string; name: string }[],
  ): string | undefined {
    if (sourceSecrets.some((s) => s.namespace === namespace.name && s.name === secretName)) return undefined;
    if (namespace.phase !== "Active") return undefined;
    return this.#mappings.find((m) => m.secretName === secretName && selects(m.selector, namespace))?.name;
  }
}

function pick(m: Mapping): Omit<MappingPolicy, "active"> {
  return {
    name: m.name,
    secretName: m.secretName,
    selector: m.selector,
    strategy: m.strategy,
    conflictPolicy: m.conflictPolicy,
  };
}

function validateNames(mappings: readonly Mapping[]): void {
  const seen = new Set<string>();
  for (const m of mappings) {
    if (m.name.includes(SEP) || m.name.includes(RETIRED_SEP))
      throw new Error(`mapping name "${m.name}" may not contain "${SEP}" or "${RETIRED_SEP}"`);
    if (seen.has(m.name)) throw new Error(`mapping name "${m.name}" is used twice`);
    seen.add(m.name);
  }
}
