import { GenericContainer, PullPolicy } from "testcontainers";

/** The uid (and gid) the image runs as; distroless's `nonroot`. */
export const NONROOT_UID = 65532;

/**
 * A testcontainers GenericContainer started the way deploy/ runs the patcher: read-only root
 * filesystem, uid/gid 65532, every capability dropped, no-new-privileges. testcontainers 12 has no
 * builder method for a read-only root filesystem, so this sets HostConfig.ReadonlyRootfs itself.
 * Never pulls: the image must have been built locally (nothing can be pulled here).
 */
export class HardenedContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    this.hostConfig.ReadonlyRootfs = true;
    this.withUser(`${NONROOT_UID}:${NONROOT_UID}`)
      .withDroppedCapabilities("ALL")
      .withSecurityOpt("no-new-privileges")
      .withPullPolicy(PullPolicy.neverPull());
  }
}
