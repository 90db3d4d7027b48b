export { MergedSource, type MergedSourceOptions } from "./merged-source.js";
export {
  mergeAuths,
  registryHost,
  registryKey,
  type HostConflict,
  type MergePart,
  type MergedAuths,
} from "./merge-auths.js";
