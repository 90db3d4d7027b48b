import { request, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { describeManifest, type Manifest } from "./yaml.ts";

export interface RawResponse {
  status: number;
  body: string;
  /** `Warning` response headers, e.g. a PodSecurity violation of a workload's pod template. */
  warnings: string[];
}

/**
 * One HTTPS request to the API server with the KubeConfig's credentials, bypassing the generated
 * client (which needs typed models, and drops fields it does not know). With `headersOnly` the
 * response is abandoned as soon as its status arrives, which is how a watch is checked.
 */
export async function rawRequest(
  kc: KubeConfig,
  method: string,
  path: string,
  options: { body?: string; contentType?: string; headersOnly?: boolean } = {},
): Promise<RawResponse> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error("kubeconfig has no current cluster");
  const url = new URL(path, server);
  const opts: RequestOptions = { method, hostname: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, headers: {} };
  await kc.applyToHTTPSOptions(opts);
  opts.headers = { ...(opts.headers as Record<string, string>), Accept: "application/json", ...(options.contentType ? { "Content-Type": options.contentType } : {}) };
  return new Promise((resolve, reject) => {
    const req = request(opts, (res) => {
      const status = res.statusCode ?? 0;
      const w = res.headers.warning;
      const warnings = w === undefined ? [] : Array.isArray(w) ? w : [w];
      if (options.headersOnly) {
        res.destroy();
        req.destroy();
        resolve({ status, body: "", warnings });
        return;
      }
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString("utf8"), warnings }));
      res.on("error", reject);
    });
    req.on("error", (err) => {
      if (!options.headersOnly || !req.destroyed) reject(err);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(options.body);
  });
}

interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

/** Maps apiVersion + kind to the REST resource via API discovery (cached per group version). */
export class Discovery {
  readonly #kc: KubeConfig;
  readonly #cache = new Map<string, Map<string, ResourceInfo>>();
  constructor(kc: KubeConfig) {
    this.#kc = kc;
  }

  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    let kinds = this.#cache.get(apiVersion);
    if (!kinds) {
      const res = await rawRequest(this.#kc, "GET", apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
      if (res.status !== 200) throw new Error(`discovery of ${apiVersion}: HTTP ${res.status}: ${res.body.slice(0, 300)}`);
      const list = JSON.parse(res.body) as { resources: { name: string; kind: string; namespaced: boolean }[] };
      kinds = new Map(list.resources.filter((r) => !r.name.includes("/")).map((r) => [r.kind, { plural: r.name, namespaced: r.namespaced }]));
      this.#cache.set(apiVersion, kinds);
    }
    const info = kinds.get(kind);
    if (!info) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
    return info;
  }

  /** The object's URL path, e.g. /apis/apps/v1/namespaces/x/deployments/y. */
  async objectPath(m: Manifest): Promise<string> {
    const { plural, namespaced } = await this.resource(m.apiVersion, m.kind);
    if (namespaced && !m.metadata.namespace) throw new Error(`${describeManifest(m)} is namespaced but names no namespace`);
    if (!namespaced && m.metadata.namespace) throw new Error(`${describeManifest(m)} is cluster-scoped but names a namespace`);
    const group = m.apiVersion.includes("/") ? `/apis/${m.apiVersion}` : `/api/${m.apiVersion}`;
    const ns = namespaced ? `/namespaces/${m.metadata.namespace}` : "";
    return `${group}${ns}/${plural}/${m.metadata.name}`;
  }
}

export interface ApplyResult {
  manifest: Manifest;
  status: number;
  /** The object the server returned (or would have stored, for a dry run), or its Status on failure. */
  body: Record<string, unknown>;
  warnings: string[];
}

/**
 * Server-side apply of one object as written (`kubectl apply --server-side --force-conflicts`),
 * with strict field validation so unknown or duplicate fields are errors, optionally dryRun=All.
 */
export async function serverSideApply(
  kc: KubeConfig,
  discovery: Discovery,
  m: Manifest,
  options: { dryRun: boolean; fieldManager?: string },
): Promise<ApplyResult> {
  const query = new URLSearchParams({ fieldManager: options.fieldManager ?? "imagepullsecret-patcher-e2e", force: "true", fieldValidation: "Strict" });
  if (options.dryRun) query.set("dryRun", "All");
  const res = await rawRequest(kc, "PATCH", `${await discovery.objectPath(m)}?${query.toString()}`, {
    body: JSON.stringify(m),
    contentType: "application/apply-patch+yaml",
  });
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    body = { message: res.body };
  }
  return { manifest: m, status: res.status, body, warnings: res.warnings };
}
