import { loadAllYaml } from "@kubernetes/client-node";

/** A manifest as written: plain JSON-like data, no client model classes. */
export type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
};

/**
 * Parses a multi-document YAML stream into plain objects, keeping every field.
 *
 * `loadAllYaml` of @kubernetes/client-node turns documents with a built-in apiVersion/kind into model
 * classes, which silently drops unknown fields (a typo such as `readOnlyRootFileSystem` would
 * vanish before the API server's strict field validation could see it). Each document is therefore
 * nested one level down under a key, which keeps it raw. Indenting a whole document is safe for block
 * style YAML (block scalar indentation is relative to the parent). Empty documents are skipped.
 */
export function parseYamlDocuments(text: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of text.split(/^---[ \t]*(?:#.*)?$/m)) {
    if (!doc.split("\n").some((line) => line.trim() !== "" && !line.trimStart().startsWith("#"))) continue;
    if (/^(%|\.\.\.)/m.test(doc)) throw new Error("YAML directives and document end markers are not supported");
    const wrapped = "raw:\n" + doc.split("\n").map((line) => (line.trim() === "" ? "" : `  ${line}`)).join("\n");
    const [parsed] = loadAllYaml(wrapped) as [{ raw: unknown }];
    if (parsed.raw !== null && parsed.raw !== undefined) out.push(parsed.raw);
  }
  return out;
}

/** Parses a YAML stream of Kubernetes objects, checking each has apiVersion, kind and metadata.name. */
export function parseManifests(text: string): Manifest[] {
  return parseYamlDocuments(text).map((doc, i) => {
    const m = doc as Partial<Manifest>;
    if (typeof m.apiVersion !== "string" || typeof m.kind !== "string" || typeof m.metadata?.name !== "string") {
      throw new Error(`document ${i} is not a Kubernetes object: ${JSON.stringify(doc).slice(0, 200)}`);
    }
    return m as Manifest;
  });
}

/** Parses one YAML document (e.g. a values file or config.yaml) into plain data. */
export function parseYaml(text: string): unknown {
  const docs = parseYamlDocuments(text);
  if (docs.length !== 1) throw new Error(`expected one YAML document, found ${docs.length}`);
  return docs[0];
}

/** `Kind namespace/name`, for messages. */
export function describeManifest(m: Manifest): string {
  return `${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ""}${m.metadata.name}`;
}
