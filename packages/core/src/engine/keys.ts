// Queue keys: one (mapping, namespace) pair per key. A removed mapping, or a copy name a mapping no
// longer uses, gets an id of its own, which no configured mapping name can equal.

export const SEP = "|";
/** A removed mapping, or a mapping's former copy name, is tracked until nothing of it is left. */
export const RETIRED_SEP = "~";
/** Tenants can label a Secret as anyone's copy: never track more removed mappings than this. */
export const MAX_RETIRED = 64;

/** A mapping no longer in config, or a copy name a mapping no longer uses; cleaned up unless retained. */
export interface Retired {
  /** The mapping's name, as its copies and records carry it. */
  readonly name: string;
  readonly secretName: string;
}

export function retiredId(name: string, secretName: string): string {
  return `${name}${RETIRED_SEP}${secretName}`;
}

export function keyOf(mapping: string, namespace: string): string {
  return `${mapping}${SEP}${namespace}`;
}

export function splitKey(key: string): [string, string] {
  const i = key.indexOf(SEP);
  return [key.slice(0, i), key.slice(i + 1)];
}
