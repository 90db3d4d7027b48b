// Which core/v1 Events say that the kubelet failed to pull a Pod's image. Pure.
//
// What the kubelet writes (kubernetes/kubernetes, pkg/kubelet/events/event.go and
// pkg/kubelet/images/image_manager.go; the same reason strings appear in events.k8s.io/v1, with the
// message in `note`):
// - reason `Failed` (FailedToPullImage), Warning: `Failed to pull image "<image>": <runtime error>`;
// - reason `Failed` (FailedToCreateContainer, kuberuntime_container.go), Warning: `Error: ErrImagePull`
//   after a failed pull, `Error: ImagePullBackOff` while the pull is backing off;
// - reason `BackOff` (BackOffPullImage), **Normal**: `Back-off pulling image "<image>"`.
// `Failed` and `BackOff` are also used for containers that fail to start or crash-loop, so the
// message decides. `ErrImagePull` and `ImagePullBackOff` are container waiting reasons in the Pod's
// status, never Event reasons.
//
// Every pull attempt of a stuck Pod, first or retried, writes a Warning `Failed` Event, so watching
// that one reason sees every such Pod at each retry; the BackOff events add nothing but volume.

/** The reason the kubelet gives a failed pull (and a container it could not create). */
export const PULL_FAILED_REASON = "Failed";
/** The reason of the kubelet's "Back-off pulling image" Event (type Normal). */
export const PULL_BACKOFF_REASON = "BackOff";

/** The one watch the diagnostics need: Pod Events with the kubelet's pull-failure reason. */
export const PULL_FAILURE_FIELD_SELECTOR = `involvedObject.kind=Pod,reason=${PULL_FAILED_REASON}`;

/** The Pod waiting reasons of a container whose image cannot be pulled. */
export const PULL_WAITING_REASONS: readonly string[] = ["ErrImagePull", "ImagePullBackOff"];

/** The fields of a core/v1 (or events.k8s.io/v1) Event this module reads. */
export interface EventFields {
  readonly reason?: string | undefined;
  readonly message?: string | undefined;
  /** events.k8s.io/v1 spelling of `message`. */
  readonly note?: string | undefined;
  readonly involvedObject?: ObjectRefFields | undefined;
  /** events.k8s.io/v1 spelling of `involvedObject`. */
  readonly regarding?: ObjectRefFields | undefined;
}

interface ObjectRefFields {
  readonly kind?: string | undefined;
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
  readonly uid?: string | undefined;
}

/** A Pod the kubelet could not pull an image for. */
export interface PullFailure {
  readonly namespace: string;
  readonly pod: string;
  /** The Pod's uid as the Event recorded it; empty when the Event carried none. */
  readonly uid: string;
  /** The image named in the message, when the message names one. */
  readonly image: string | undefined;
}

const FAILED_TO_PULL = /^Failed to pull image "([^"]*)"/;
const BACKING_OFF = /^Back-off pulling image "([^"]*)"/;
const CREATE_ERRORS = new Set(PULL_WAITING_REASONS.map((reason) => `Error: ${reason}`));

/** The image of a pull-failure message, `null` for a pull failure naming none, undefined for anything else. */
function pulledImage(reason: string | undefined, message: string): string | null | undefined {
  if (reason === PULL_FAILED_REASON) {
    const failed = FAILED_TO_PULL.exec(message);
    if (failed) return failed[1] ?? null;
    return CREATE_ERRORS.has(message.trim()) ? null : undefined;
  }
  if (reason === PULL_BACKOFF_REASON) {
    const backingOff = BACKING_OFF.exec(message);
    return backingOff ? (backingOff[1] ?? null) : undefined;
  }
  return undefined;
}

/** The Pod and image of an Event that reports a failed or backing-off image pull; undefined for any other Event. */
export function classifyPullFailure(event: EventFields): PullFailure | undefined {
  const ref = event.involvedObject ?? event.regarding;
  if (ref?.kind !== "Pod" || !ref.namespace || !ref.name) return undefined;
  const image = pulledImage(event.reason, event.message ?? event.note ?? "");
  if (image === undefined) return undefined;
  return { namespace: ref.namespace, pod: ref.name, uid: ref.uid ?? "", image: image ?? undefined };
}
