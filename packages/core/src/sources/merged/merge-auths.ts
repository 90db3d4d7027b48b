import { type DockerConfigJson, parseDockerConfigJson } from "../../credentials/docker-config.js";

/** One source's part of a merge: its credential and its description (for warnings). */
export interface MergePart {
  readonly description: string;
  readonly credential: DockerConfigJson;
}

/** A registry host found in two sources: the first listed one's entry is kept. No credential in it. */
export interface HostConflict {
  /** The {@link registryKey}: the host, and the path for a key scoped to one (`registry.example.com/team-a`). */
  readonly host: string;
  /** Description of the source whose entry is used. */
  readonly kept: string;
  /** Description of the source whose entry is left out. */
  readonly ignored: string;
}

/** What {@link mergeAuths} gives: the merged credential, and the hosts more than one source listed. */
export interface MergedAuths {
  readonly credential: DockerConfigJson;
  readonly conflicts: readonly HostConflict[];
}

/**
 * The registry host an `auths` key names: `https://index.docker.io/v1/` and `index.docker.io`
 * are one host. Scheme and path dropped, lowercased; the port is kept (it is part of the host).
 */
export function registryHost(key: string): string {
  const withoutScheme = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  return (withoutScheme.split("/")[0] ?? "").toLowerCase();
}

/**
 * What the kubelet files an `auths` key under: the registry host, plus the path when the key names
 * one (`registry.example.com/team-a`), since it matches such an entry only for images under that
 * path. A `/v1/` or `/v2/` path names the registry itself, as it does for docker and the kubelet.
 * Two keys with one registry key are one credential slot; keys with different paths are not.
 */
export function registryKey(key: string): string {
  const withoutScheme = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const slash = withoutScheme.indexOf("/");
  if (slash < 0) return withoutScheme.toLowerCase();
  const path = withoutScheme
    .slice(slash)
    .replace(/^\/v[12](?=\/)/, "")
    .replace(/\/+$/, "");
  return `${withoutScheme.slice(0, slash).toLowerCase()}${path}`;
}

function authsOf(credential: DockerConfigJson): Record<string, unknown> {
  // The bytes passed parseDockerConfigJson, so `auths` is a non-empty map.
  return (JSON.parse(credential.bytes.toString("utf8")) as { auths: Record<string, unknown> }).auths;
}

/**
 * One `.dockerconfigjson` whose `auths` is the union of the parts' `auths`. A registry (by
 * {@link registryKey}) listed by two parts keeps the entry of the first part and is reported in
 * `conflicts`; keys one part lists twice for a registry are kept as that part wrote them. Other top-level keys (`credsStore`,
 * `HttpHeaders`) are left out: the kubelet reads only `auths`.
 *
 * @throws InvalidCredentialError when the result is not a valid credential (larger than 1 MiB).
 */
export function mergeAuths(parts: readonly MergePart[], origin: string): MergedAuths {
  const auths: Record<string, unknown> = {};
  const owners = new Map<string, string>();
  const conflicts: HostConflict[] = [];
  for (const part of parts) {
    const mine = new Set<string>();
    for (const [key, entry] of Object.entries(authsOf(part.credential))) {
      const host = registryKey(key);
      const owner = owners.get(host);
      if (owner !== undefined && !mine.has(host)) {
        if (!conflicts.some((c) => c.host === host && c.ignored === part.description)) {
          conflicts.push({ host, kept: owner, ignored: part.description });
        }
        continue;
      }
      owners.set(host, part.description);
      mine.add(host);
      auths[key] = entry;
    }
  }
  return { credential: parseDockerConfigJson(JSON.stringify({ auths }), origin), conflicts };
}
