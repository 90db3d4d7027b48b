import {
  InvalidCredentialError,
  PluginConfigError,
  parseDockerConfigJson,
  type SourceFactory,
  type SourceProvider,
  type SourceStatus,
  type SourceValue,
} from "@imagepullsecret-patcher/core";

export interface EnvSourceConfig {
  readonly variable: string;
}

/**
 * The credential from an environment variable, read once at start: titansoft's
 * `CONFIG_DOCKERCONFIGJSON`. Prefer the `secret` or `file` sources; environment variables leak
 * into process listings and crash dumps.
 */
export class EnvSource implements SourceProvider {
  readonly description: string;
  #value: SourceValue | undefined;
  #status: SourceStatus = { state: "pending" };

  constructor(
    private readonly config: EnvSourceConfig,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.description = `environment variable ${config.variable}`;
  }

  start(): Promise<void> {
    try {
      const credential = parseDockerConfigJson(this.env[this.config.variable], this.description);
      this.#value = { credential, fetchedAt: new Date() };
      this.#status = { state: "ready", lastSuccessAt: this.#value.fetchedAt };
    } catch (err) {
      this.#status = {
        state: "pending",
        error: err instanceof InvalidCredentialError ? err.message : `${this.description}: unreadable`,
      };
    }
    return Promise.resolve();
  }

  current(): SourceValue | undefined {
    return this.#value;
  }

  status(): SourceStatus {
    return this.#status;
  }

  onChange(): () => void {
    return () => {};
  }
}

export const envSourceFactory: SourceFactory<EnvSourceConfig> = {
  type: "env",
  summary: "a .dockerconfigjson in an environment variable, read once (titansoft's CONFIG_DOCKERCONFIGJSON)",
  validate(config: unknown): EnvSourceConfig {
    const variable = (config as { variable?: unknown } | null)?.variable;
    if (typeof variable !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
      throw new PluginConfigError("variable", "required, the name of an environment variable");
    }
    return { variable };
  },
  create: (config) => new EnvSource(config),
};
