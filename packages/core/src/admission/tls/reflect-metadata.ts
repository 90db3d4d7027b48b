// @peculiar/x509 registers its algorithms with tsyringe, and tsyringe refuses to load unless `Reflect.getMetadata`
// exists. Installing the few Reflect metadata functions here, only when nobody has, spares every user of core an
// `import "reflect-metadata"`. The storage matches what reflect-metadata 0.2 expects of an earlier polyfill: if an
// app imports it afterwards, it wraps these functions as a fallback provider and both keep working.

type MetadataKey = unknown;
type PropertyKeyOrNone = string | symbol | undefined;
type MetadataMap = Map<MetadataKey, unknown>;

const store = new WeakMap<object, Map<PropertyKeyOrNone, MetadataMap>>();

function ownMap(target: object, property: PropertyKeyOrNone, create: boolean): MetadataMap | undefined {
  let byProperty = store.get(target);
  if (!byProperty) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let map = byProperty.get(property);
  if (!map && create) {
    map = new Map();
    byProperty.set(property, map);
  }
  return map;
}

function parentOf(target: object): object | null {
  return Object.getPrototypeOf(target) as object | null;
}

const functions = {
  defineMetadata(key: MetadataKey, value: unknown, target: object, property?: PropertyKeyOrNone): void {
    ownMap(target, property, true)?.set(key, value);
  },
  hasOwnMetadata(key: MetadataKey, target: object, property?: PropertyKeyOrNone): boolean {
    return ownMap(target, property, false)?.has(key) ?? false;
  },
  getOwnMetadata(key: MetadataKey, target: object, property?: PropertyKeyOrNone): unknown {
    return ownMap(target, property, false)?.get(key);
  },
  getOwnMetadataKeys(target: object, property?: PropertyKeyOrNone): MetadataKey[] {
    return [...(ownMap(target, property, false)?.keys() ?? [])];
  },
  deleteMetadata(key: MetadataKey, target: object, property?: PropertyKeyOrNone): boolean {
    return ownMap(target, property, false)?.delete(key) ?? false;
  },
  hasMetadata(key: MetadataKey, target: object, property?: PropertyKeyOrNone): boolean {
    for (let t: object | null = target; t; t = parentOf(t)) if (functions.hasOwnMetadata(key, t, property)) return true;
    return false;
  },
  getMetadata(key: MetadataKey, target: object, property?: PropertyKeyOrNone): unknown {
    for (let t: object | null = target; t; t = parentOf(t)) {
      if (functions.hasOwnMetadata(key, t, property)) return functions.getOwnMetadata(key, t, property);
    }
    return undefined;
  },
  getMetadataKeys(target: object, property?: PropertyKeyOrNone): MetadataKey[] {
    const keys = new Set<MetadataKey>();
    for (let t: object | null = target; t; t = parentOf(t)) {
      for (const key of functions.getOwnMetadataKeys(t, property)) keys.add(key);
    }
    return [...keys];
  },
  /** The decorator TypeScript's `emitDecoratorMetadata` output calls. */
  metadata(key: MetadataKey, value: unknown) {
    return (target: object, property?: PropertyKeyOrNone): void =>
      functions.defineMetadata(key, value, target, property);
  },
};

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect.getMetadata !== "function") {
  for (const [name, fn] of Object.entries(functions)) {
    Object.defineProperty(reflect, name, { value: fn, writable: true, configurable: true });
  }
}

export {};
