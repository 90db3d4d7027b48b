import type { TokenCredential } from "@azure/identity";
import { SourceFetchError } from "@imagepullsecret-patcher/core";
import { buildCredential, credentialLabel, type IdentityChoice } from "./credential.js";
import { describeIdentityError } from "./redact.js";

/** Gets Entra access tokens with one credential, made on first use (so a missing setting is a fetch error). */
export class EntraTokens {
  #credential: TokenCredential | undefined;

  constructor(
    private readonly choice: IdentityChoice,
    private readonly scope: string,
    credential: TokenCredential | undefined,
  ) {
    this.#credential = credential;
  }

  async get(signal: AbortSignal): Promise<string> {
    const credential = this.#credential ?? this.#build();
    const where = `Entra ID token (${credentialLabel(this.choice.kind)})`;
    let token: { token: string } | null;
    try {
      token = await credential.getToken(this.scope, { abortSignal: signal });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new SourceFetchError(`${where}: ${describeIdentityError(err, this.#secrets())}`);
    }
    if (!token?.token) throw new SourceFetchError(`${where}: the credential returned no token`);
    return token.token;
  }

  #build(): TokenCredential {
    const { kind, missing } = this.choice;
    if (missing.length > 0) {
      throw new SourceFetchError(`credential ${kind} needs ${missing.join(", ")}`, false);
    }
    try {
      this.#credential = buildCredential(this.choice);
    } catch (err) {
      throw new SourceFetchError(`credential ${kind}: ${describeIdentityError(err, this.#secrets())}`, false);
    }
    return this.#credential;
  }

  /** Values that must never appear in what this source reports. */
  #secrets(): string[] {
    return this.choice.clientSecret === undefined ? [] : [this.choice.clientSecret];
  }
}
