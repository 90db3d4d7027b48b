import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { InvalidCredentialError, parseDockerConfigJson } from "../../credentials/docker-config.js";
import { Reflector } from "../../kube/reflector.js";
import { DOCKER_CONFIG_JSON_KEY, DOCKER_CONFIG_JSON_TYPE } from "../../kube/views.js";
import {
  PluginConfigError,
  type PluginContext,
  type SourceFactory,
  type SourceProvider,
  type SourceStatus,
  type SourceValue,
} from "../../plugins/contracts.js";
import { SourceStateMachine } from "../polling/source-state.js";

/** Config of the `secret` source: the Secret's name and namespace. */
export interface SecretSourceConfig {
  readonly name: string;
  readonly namespace: string;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

interface SourceSecret {
  resourceVersion: string;
  secret: V1Secret;
}

/**
 * A `kubernetes.io/dockerconfigjson` Secret in the cluster, watched by name (a field selector), so
 * the patcher needs get/list/watch on that one Secret only.
 */
export class SecretSource implements SourceProvider {
  readonly description: string;
  readonly secretsRead: readonly { namespace: string; name: string }[];
  readonly #config: SecretSourceConfig;
  readonly #context: PluginContext;
  readonly #state: SourceStateMachine;

  constructor(config: SecretSourceConfig, context: PluginContext) {
    this.#config = config;
    this.#context = context;
    this.description = `secret ${config.namespace}/${config.name}`;
    this.secretsRead = [{ namespace: config.namespace, name: config.name }];
    this.#state = new SourceStateMachine(this.description, context.logger);
  }

  async start(signal: AbortSignal): Promise<void> {
    const kc = this.#context.kubeConfig;
    if (!kc) throw new Error(`${this.description}: the secret source needs a Kubernetes client`);
    // The first attempt settles when the Secret was listed, or when listing it failed (e.g. 403):
    // a source that cannot be read reports why and never holds up anything else.
    let settle: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    if (!this.#state.begin(signal, () => settle())) return;
    void this.#reflector(kc, settle).run(signal);
    await settled;
  }

  /** Watches the one Secret by name; `settle` is called once the first list succeeded or failed. */
  #reflector(kc: KubeConfig, settle: () => void): Reflector<V1Secret, SourceSecret> {
    const core = kc.makeApiClient(CoreV1Api);
    const { namespace, name } = this.#config;
    const reflector = new Reflector<V1Secret, SourceSecret>({
      name: `source ${namespace}/${name}`,
      kubeConfig: kc,
      watchPath: `/api/v1/namespaces/${namespace}/secrets`,
      fieldSelector: `metadata.name=${name}`,
      list: (params) => core.listNamespacedSecret({ namespace, ...params }),
      transform: (secret) => ({ resourceVersion: secret.metadata?.resourceVersion ?? "", secret }),
      key: () => name,
      logger: this.#context.logger,
      onProblem: (problem) => {
        if (problem) {
          this.#fail(`cannot read Secret ${namespace}/${name}: ${problem}`);
          settle();
        }
      },
    });
    reflector.on({
      add: (s) => this.#observe(s.secret),
      update: (_old, s) => this.#observe(s.secret),
      delete: () => this.#fail(`Secret ${namespace}/${name} was deleted`),
      synced: () => {
        if (reflector.size === 0) this.#fail(`Secret ${namespace}/${name} does not exist`);
        else if (!reflector.problem) {
          const only = reflector.get(name);
          if (only) this.#observe(only.secret);
        }
        settle();
      },
    });
    return reflector;
  }

  current(): SourceValue | undefined {
    return this.#state.current();
  }

  status(): SourceStatus {
    return this.#state.status();
  }

  onChange(listener: () => void): () => void {
    return this.#state.onChange(listener);
  }

  #observe(secret: V1Secret): void {
    const encoded = secret.data?.[DOCKER_CONFIG_JSON_KEY];
    if (encoded === undefined) {
      const keys = Object.keys(secret.data ?? {});
      return this.#fail(
        `Secret ${this.#config.namespace}/${this.#config.name} has no ${DOCKER_CONFIG_JSON_KEY} key (keys: ${keys.join(", ") || "none"})`,
      );
    }
    if (secret.type !== DOCKER_CONFIG_JSON_TYPE) {
      return this.#fail(
        `Secret ${this.#config.namespace}/${this.#config.name} has type ${secret.type ?? "Opaque"}, expected ${DOCKER_CONFIG_JSON_TYPE}`,
      );
    }
    let credential;
    try {
      credential = parseDockerConfigJson(Buffer.from(encoded, "base64"), this.description);
    } catch (err) {
      return this.#fail(err instanceof InvalidCredentialError ? err.reason : "unreadable value");
    }
    this.#state.succeeded(credential, new Date());
  }

  #fail(problem: string): void {
    const error = problem.startsWith(this.description) ? problem : `${this.description}: ${problem}`;
    const { state, announced } = this.#state.failed(error);
    if (announced) {
      this.#context.logger.warn(
        { source: this.description, state, error },
        "source is not usable; existing copies are kept",
      );
    }
  }
}

function requireName(value: unknown, field: string, pattern: RegExp, max: number): string {
  if (typeof value !== "string" || value === "") throw new PluginConfigError(field, "required, a non-empty string");
  if (value.length > max || !pattern.test(value)) {
    throw new PluginConfigError(
      field,
      `"${value}" is not a valid Kubernetes name (lowercase letters, digits, '-'${pattern === DNS1123_SUBDOMAIN ? ", '.'" : ""}; at most ${max} characters)`,
    );
  }
  return value;
}

/** The built-in `secret` source: `source: { secret: { name, namespace } }`. */
export const secretSourceFactory: SourceFactory<SecretSourceConfig> = {
  type: "secret",
  summary: "a kubernetes.io/dockerconfigjson Secret in the cluster, watched by name",
  validate(config: unknown): SecretSourceConfig {
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
      throw new PluginConfigError("", "expected a map with name and namespace");
    }
    const { name, namespace, ...rest } = config as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length) throw new PluginConfigError(unknown[0] ?? "", "unknown field (valid: name, namespace)");
    return {
      name: requireName(name, "name", DNS1123_SUBDOMAIN, 253),
      namespace: requireName(namespace, "namespace", DNS1123_LABEL, 63),
    };
  },
  create: (config, context) => new SecretSource(config, context),
};
