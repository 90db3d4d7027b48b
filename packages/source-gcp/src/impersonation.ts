import { SourceFetchError } from "@imagepullsecret-patcher/core";
import { CLOUD_PLATFORM_SCOPE, type AccessToken, type CredentialSource, type TokenProvider } from "./credentials.js";

/** Google's IAM Service Account Credentials API. */
export const IAM_CREDENTIALS_ENDPOINT = "https://iamcredentials.googleapis.com";
/** The longest lifetime generateAccessToken grants without an organisation policy extending it. */
const LIFETIME = "3600s";

interface GenerateAccessTokenAnswer {
  readonly accessToken?: unknown;
  readonly expireTime?: unknown;
}

/**
 * A token of another service account: the credentials' own token calls the IAM Credentials API's
 * `generateAccessToken` for `serviceAccount`, which needs `roles/iam.serviceAccountTokenCreator`
 * on it. Called directly rather than through google-auth-library's `Impersonated`, which prints a
 * warning every time one is made.
 * https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken
 */
export class ImpersonatedTokens implements TokenProvider {
  readonly label: string;
  readonly #source: CredentialSource;
  readonly #url: string;

  constructor(source: CredentialSource, serviceAccount: string, endpoint = IAM_CREDENTIALS_ENDPOINT) {
    this.#source = source;
    this.label = `${source.label} as ${serviceAccount}`;
    const name = `projects/-/serviceAccounts/${encodeURIComponent(serviceAccount)}`;
    this.#url = `${endpoint.replace(/\/+$/, "")}/v1/${name}:generateAccessToken`;
  }

  async fetch(): Promise<AccessToken> {
    const client = await this.#source.client();
    const response = await client.request<GenerateAccessTokenAnswer>({
      url: this.#url,
      method: "POST",
      data: { scope: [CLOUD_PLATFORM_SCOPE], lifetime: LIFETIME },
      responseType: "json",
      timeout: 20_000,
    });
    const { accessToken, expireTime } = response.data;
    const expiryDate = typeof expireTime === "string" ? Date.parse(expireTime) : Number.NaN;
    if (typeof accessToken !== "string" || Number.isNaN(expiryDate)) {
      throw new SourceFetchError("generateAccessToken answered without accessToken and expireTime", false);
    }
    return { token: accessToken, expiryDate };
  }
}
