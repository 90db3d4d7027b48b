// The soak test's model of what it asked for: the configs of the two patcher instances, the
// namespaces it manages and the entries users added by hand. From the final model and the
// cluster's namespace labels it computes the state the patchers must converge to.

/** Labels every soak namespace carries, so the mappings never select anything else. */
export const SOAK_LABEL = "soak";

/** Names of the copies any config of the run can write. */
export const COPY_NAMES = ["regcred", "mirror-pull", "mirror-pull-v2"] as const;

export type Strategy = "default" | "all" | readonly string[];

export type Target =
  | { readonly kind: "labels"; readonly labels: Readonly<Record<string, string>> }
  | { readonly kind: "list"; readonly names: readonly string[] };

export interface MappingSpec {
  readonly name: string;
  /** Name of the source Secret in the source namespace. */
  readonly source: string;
  readonly secretName: string;
  readonly target: Target;
  readonly serviceAccounts: Strategy;
}

export interface InstanceSpec {
  readonly instance: string;
  readonly mappings: readonly MappingSpec[];
  readonly leaderElection: boolean;
}

export function strategySelects(strategy: Strategy, serviceAccount: string): boolean {
  if (strategy === "all") return true;
  if (strategy === "default") return serviceAccount === "default";
  return strategy.includes(serviceAccount);
}

export function targetSelects(target: Target, namespace: string, labels: Readonly<Record<string, string>>): boolean {
  if (target.kind === "list") return target.names.includes(namespace);
  return Object.entries(target.labels).every(([k, v]) => labels[k] === v);
}

function yamlStrategy(s: Strategy): string {
  return typeof s === "string" ? s : `[${s.join(", ")}]`;
}

function yamlTarget(t: Target): string {
  if (t.kind === "list") return `{ namespaces: [${t.names.join(", ")}] }`;
  const labels = Object.entries(t.labels)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join(", ");
  return `{ selector: { matchLabels: { ${labels} } } }`;
}

/** The patcher's config file for an instance. */
export function renderConfig(spec: InstanceSpec, sourceNamespace: string): string {
  const lines = ["secretName: regcred", "mappings:"];
  for (const m of spec.mappings) {
    lines.push(
      `  - name: ${m.name}`,
      `    source: { secret: { name: ${m.source}, namespace: ${sourceNamespace} } }`,
      `    targets: ${yamlTarget(m.target)}`,
      `    secretName: ${m.secretName}`,
      `    serviceAccounts: ${yamlStrategy(m.serviceAccounts)}`,
    );
  }
  // A resync every 30 s: the quiet window spans two of them, so a steady state must survive a
  // full re-evaluation of every key without writing.
  lines.push(`controller: { instance: ${spec.instance}, resyncInterval: 30s }`);
  if (spec.leaderElection) {
    lines.push(
      `leaderElection: { enabled: true, namespace: ${sourceNamespace}, name: soak-${spec.instance}, leaseDuration: 6s, renewDeadline: 4s, retryPeriod: 1s }`,
    );
  }
  lines.push("log: { level: info }", "");
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Expected state
// ---------------------------------------------------------------------------------------------

export interface ObservedSecret {
  name: string;
  type: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** base64 of each data key. */
  data: Record<string, string>;
  resourceVersion: string;
  deleting: boolean;
}

export interface ObservedServiceAccount {
  name: string;
  imagePullSecrets: string[];
  annotations: Record<string, string>;
  resourceVersion: string;
}

export interface ObservedNamespace {
  name: string;
  labels: Record<string, string>;
  phase: string;
  secrets: ObservedSecret[];
  serviceAccounts: ObservedServiceAccount[];
}

export interface Observed {
  namespaces: ObservedNamespace[];
  /** Source Secret name → base64 of its .dockerconfigjson. */
  sources: Record<string, string>;
}

/** One (instance, mapping) that wants to write a copy into a namespace. */
export interface Claim {
  instance: string;
  mapping: MappingSpec;
}

/** A key that must report a conflict: it selects a namespace but another owner holds the copy. */
export interface ExpectedConflict {
  instance: string;
  mapping: string;
  namespace: string;
  secretName: string;
  /** Who holds the name instead. */
  heldBy: string;
}

export interface Verdict {
  /** Human-readable violations; empty when the cluster matches the model. */
  violations: string[];
  /**
   * Entries recorded in the added-annotation under an (instance, mapping) that no longer selects
   * the namespace for that name: the entry itself is fine, but the record names the wrong owner.
   */
  staleRecords: string[];
  /** Keys that must report a conflict in the final state. */
  conflicts: ExpectedConflict[];
  /** (namespace, secretName) → "instance/mapping" of the copy's owner, for the report. */
  owners: Map<string, string>;
  /** Namespaces checked. */
  namespaces: number;
}

const MANAGED_BY = "app.kubernetes.io/managed-by";
const MANAGED_VALUE = "imagepullsecret-patcher";
const MAPPING_LABEL = "imagepullsecret-patcher.io/mapping";
const INSTANCE_LABEL = "imagepullsecret-patcher.io/instance";
const ADDED = "imagepullsecret-patcher.io/added";
const DOCKER_TYPE = "kubernetes.io/dockerconfigjson";
const DOCKER_KEY = ".dockerconfigjson";

/**
 * Records of the added-annotation: `name` (older form) or `name@instance/mapping`, comma-separated.
 */
export function addedRecords(
  value: string | undefined,
): { secretName: string; instance?: string | undefined; mapping?: string | undefined }[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((r) => {
      const m = /^([^@/\s]+)(?:@([^@/\s]+)\/([^@/\s]+))?$/.exec(r);
      return m ? { secretName: m[1] ?? r, instance: m[2], mapping: m[3] } : { secretName: r };
    });
}

export function isManaged(s: ObservedSecret): boolean {
  return s.labels[MANAGED_BY] === MANAGED_VALUE;
}

/**
 * Claims per instance for (namespace, secretName): the mappings, in config order, that select the
 * namespace and write that name. Within an instance the first one owns the name.
 */
export function claimsFor(instances: readonly InstanceSpec[], ns: ObservedNamespace, secretName: string): Claim[] {
  const out: Claim[] = [];
  for (const spec of instances) {
    for (const m of spec.mappings) {
      if (m.secretName === secretName && targetSelects(m.target, ns.name, ns.labels))
        out.push({ instance: spec.instance, mapping: m });
    }
  }
  return out;
}

/** What judging collects, namespace by namespace. */
type Findings = Pick<Verdict, "violations" | "staleRecords" | "conflicts" | "owners">;

/** Per copy name of one namespace: which ServiceAccounts must reference it, and which may. */
interface EntryRules {
  required: Map<string, (sa: string) => boolean>;
  allowed: Map<string, (sa: string) => boolean>;
}

const claimList = (claims: readonly Claim[]): string => claims.map((c) => `${c.instance}/${c.mapping.name}`).join(", ");

/** The owned copy's label, type and bytes against its owner's mapping. */
function checkCopyContent(
  f: Findings,
  observed: Observed,
  secret: ObservedSecret,
  where: string,
  owner: { instance: string; mapping: MappingSpec },
): void {
  const { instance, mapping } = owner;
  if (secret.labels[MAPPING_LABEL] !== mapping.name) {
    f.violations.push(
      `copy ${where} is labelled mapping=${secret.labels[MAPPING_LABEL]}, expected ${mapping.name} (first mapping of ${instance} that selects it)`,
    );
  }
  if (secret.deleting)
    f.violations.push(`copy ${where} is being deleted although ${instance}/${mapping.name} wants it`);
  if (secret.type !== DOCKER_TYPE) f.violations.push(`copy ${where} has type ${secret.type}`);
  const keys = Object.keys(secret.data);
  if (keys.length !== 1 || keys[0] !== DOCKER_KEY) f.violations.push(`copy ${where} has data keys [${keys.join(",")}]`);
  else if (secret.data[DOCKER_KEY] !== observed.sources[mapping.source]) {
    f.violations.push(
      `copy ${where} (owner ${instance}/${mapping.name}) does not hold the current bytes of source ${mapping.source}`,
    );
  }
}

/** The copy `secretName` in `ns` against its claims; records the owner's entry rules when it has one. */
function judgeCopy(
  f: Findings,
  instances: readonly InstanceSpec[],
  observed: Observed,
  ns: ObservedNamespace,
  secretName: string,
  rules: EntryRules,
): void {
  const claims = claimsFor(instances, ns, secretName);
  const secret = ns.secrets.find((s) => s.name === secretName);
  const where = `${ns.name}/${secretName}`;
  if (secret && !isManaged(secret)) {
    // Someone else's Secret: every claim is a conflict, and no mapping may reference it.
    for (const c of claims)
      f.conflicts.push({
        instance: c.instance,
        mapping: c.mapping.name,
        namespace: ns.name,
        secretName,
        heldBy: "a foreign Secret",
      });
    return;
  }
  if (claims.length === 0) {
    if (secret) {
      f.violations.push(
        `orphan copy ${where}: no mapping of any instance selects it, but it exists (mapping=${secret.labels[MAPPING_LABEL]}, instance=${secret.labels[INSTANCE_LABEL]}${secret.deleting ? ", being deleted" : ""})`,
      );
    }
    return;
  }
  if (!secret) {
    f.violations.push(`missing copy ${where}: wanted by ${claimList(claims)}`);
    return;
  }
  const instance = secret.labels[INSTANCE_LABEL] ?? "";
  const winner = claims.find((c) => c.instance === instance);
  if (!winner) {
    f.violations.push(
      `copy ${where} is owned by instance "${instance}" (mapping ${secret.labels[MAPPING_LABEL]}), which does not select it; wanted by ${claimList(claims)}`,
    );
    return;
  }
  f.owners.set(where, `${instance}/${winner.mapping.name}`);
  checkCopyContent(f, observed, secret, where, { instance, mapping: winner.mapping });
  for (const c of claims) {
    if (c.instance === instance && c.mapping.name === winner.mapping.name) continue;
    f.conflicts.push({
      instance: c.instance,
      mapping: c.mapping.name,
      namespace: ns.name,
      secretName,
      heldBy: `${instance}/${winner.mapping.name}`,
    });
  }
  rules.required.set(secretName, (sa) => strategySelects(winner.mapping.serviceAccounts, sa));
  rules.allowed.set(secretName, (sa) => claims.some((c) => strategySelects(c.mapping.serviceAccounts, sa)));
}

/** No duplicates, and the user's own entries all there in their order. */
function checkHandEntries(f: Findings, where: string, entries: readonly string[], hand: readonly string[]): void {
  const dupes = entries.filter((n, i) => entries.indexOf(n) !== i);
  if (dupes.length) f.violations.push(`duplicate imagePullSecrets in ServiceAccount ${where}: [${entries.join(",")}]`);
  const handPositions = hand.map((n) => entries.indexOf(n));
  if (handPositions.some((p) => p < 0)) {
    f.violations.push(
      `ServiceAccount ${where} lost hand-added entries: has [${entries.join(",")}], the user added [${hand.join(",")}]`,
    );
  } else if (handPositions.some((p, i) => i > 0 && p < (handPositions[i - 1] ?? 0))) {
    f.violations.push(
      `ServiceAccount ${where} reordered hand-added entries: has [${entries.join(",")}], the user added [${hand.join(",")}]`,
    );
  }
}

/** The added-annotation names only entries present, under an owner that still selects the namespace. */
function checkAddedRecords(
  f: Findings,
  instances: readonly InstanceSpec[],
  ns: ObservedNamespace,
  sa: ObservedServiceAccount,
): void {
  const where = `${ns.name}/${sa.name}`;
  const entries = sa.imagePullSecrets;
  for (const record of addedRecords(sa.annotations[ADDED])) {
    const text = `${record.secretName}${record.instance ? `@${record.instance}/${record.mapping}` : ""}`;
    if (!entries.includes(record.secretName)) {
      f.violations.push(
        `ServiceAccount ${where}: annotation ${ADDED} records ${text}, which is not in imagePullSecrets [${entries.join(",")}]`,
      );
    } else if (
      record.instance &&
      !claimsFor(instances, ns, record.secretName).some(
        (c) => c.instance === record.instance && c.mapping.name === record.mapping,
      )
    ) {
      f.staleRecords.push(
        `ServiceAccount ${where}: annotation ${ADDED} records ${text}, but ${record.instance}/${record.mapping} does not select this namespace for ${record.secretName} (owner ${f.owners.get(`${ns.name}/${record.secretName}`) ?? "none"})`,
      );
    }
  }
}

function judgeServiceAccount(
  f: Findings,
  instances: readonly InstanceSpec[],
  ns: ObservedNamespace,
  sa: ObservedServiceAccount,
  hand: readonly string[],
  rules: EntryRules,
): void {
  const where = `${ns.name}/${sa.name}`;
  const entries = sa.imagePullSecrets;
  checkHandEntries(f, where, entries, hand);
  for (const [secretName, must] of rules.required) {
    if (must(sa.name) && !entries.includes(secretName))
      f.violations.push(
        `ServiceAccount ${where} lacks entry ${secretName} (owner ${f.owners.get(`${ns.name}/${secretName}`)})`,
      );
  }
  for (const entry of entries) {
    if (hand.includes(entry)) continue;
    const may = rules.allowed.get(entry);
    if (!may?.(sa.name))
      f.violations.push(
        `ServiceAccount ${where} has stray entry ${entry}: no mapping that owns a copy of it selects this ServiceAccount (entries [${entries.join(",")}])`,
      );
  }
  checkAddedRecords(f, instances, ns, sa);
}

/**
 * Compares the observed cluster with what the final configs demand.
 * `handEntries` maps "namespace/serviceaccount" to the imagePullSecrets users added by hand, in order.
 */
export function judge(
  instances: readonly InstanceSpec[],
  observed: Observed,
  handEntries: ReadonlyMap<string, readonly string[]>,
): Verdict {
  const f: Findings = { violations: [], staleRecords: [], conflicts: [], owners: new Map() };
  let checked = 0;
  for (const ns of observed.namespaces) {
    if (ns.phase !== "Active") continue;
    checked++;
    const names = new Set<string>([...COPY_NAMES, ...ns.secrets.filter(isManaged).map((s) => s.name)]);
    const rules: EntryRules = { required: new Map(), allowed: new Map() };
    for (const secretName of names) judgeCopy(f, instances, observed, ns, secretName, rules);
    for (const sa of ns.serviceAccounts)
      judgeServiceAccount(f, instances, ns, sa, handEntries.get(`${ns.name}/${sa.name}`) ?? [], rules);
  }
  return { ...f, namespaces: checked };
}
