/**
 * Source types shipped as packages of their own, imported only when used, so that their SDKs cost no memory
 * otherwise. The imports are literal so that the image's bundle splits each into a chunk loaded on demand;
 * unbundled, Node resolves them by package name.
 */
export const CLOUD_SOURCE_PACKAGES: Readonly<Record<string, { name: string; load: () => Promise<unknown> }>> = {
  ecr: { name: "@imagepullsecret-patcher/source-ecr", load: () => import("@imagepullsecret-patcher/source-ecr") },
  gcp: { name: "@imagepullsecret-patcher/source-gcp", load: () => import("@imagepullsecret-patcher/source-gcp") },
  acr: { name: "@imagepullsecret-patcher/source-acr", load: () => import("@imagepullsecret-patcher/source-acr") },
};

/** The app's own copy of a cloud source package, by package name; undefined for any other package. */
export function bundledPackage(name: string): { name: string; load: () => Promise<unknown> } | undefined {
  return Object.values(CLOUD_SOURCE_PACKAGES).find((entry) => entry.name === name);
}
