import type { NamespaceView, TargetSelector } from "@imagepullsecret-patcher/core";

/** Namespaces that opt in carry this annotation set to `"true"`. */
export const PULL_SECRETS_ANNOTATION = "example.com/pull-secrets";

/**
 * This program's own {@link TargetSelector}: namespaces that opt in with an annotation (labels are
 * often owned by someone else; an annotation is a cheap, explicit opt-in). Pure: it looks at the
 * namespace it is given and nothing else.
 */
export class AnnotatedNamespaceSelector implements TargetSelector {
  readonly description: string;

  constructor(readonly annotation: string = PULL_SECRETS_ANNOTATION) {
    if (!annotation) throw new TypeError("annotation must be a non-empty string");
    this.description = `namespaces annotated ${annotation}: "true"`;
  }

  matches(namespace: NamespaceView): boolean {
    return namespace.annotations[this.annotation] === "true";
  }
}
