import type { ClusterProvider, ClusterProviderName } from "./provider.ts";
import { localProvider } from "./local/local-provider.ts";
import { kindProvider } from "./kind-provider.ts";
import { existingProvider } from "./existing-provider.ts";
import { k3sProvider } from "./k3s-provider.ts";

export type { Cluster, ClusterProvider, ClusterProviderName, StartOptions } from "./provider.ts";
export { localProvider, stopFromState, readState, DEFAULT_WORK_DIR } from "./local/local-provider.ts";

const PROVIDERS: Record<ClusterProviderName, ClusterProvider> = {
  local: localProvider,
  kind: kindProvider,
  existing: existingProvider,
  k3s: k3sProvider,
};

/** The provider named by `E2E_CLUSTER` (default `local`). */
export function providerFromEnv(value = process.env.E2E_CLUSTER ?? "local"): ClusterProvider {
  const provider = PROVIDERS[value as ClusterProviderName];
  if (!provider)
    throw new Error(`E2E_CLUSTER=${value} is not a provider; use one of ${Object.keys(PROVIDERS).join(", ")}`);
  return provider;
}
