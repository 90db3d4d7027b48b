// A stand-in for the Azure Instance Metadata Service's managed identity endpoint, which MSAL calls at
// AZURE_POD_IDENTITY_AUTHORITY_HOST instead of 169.254.169.254: GET /metadata/identity/oauth2/token
// ?api-version=2018-02-01&resource=<resource>[&client_id=<id>] with the header `Metadata: true`,
// answered with { access_token, expires_in, expires_on, resource, token_type } (numbers as strings)
// (https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http).
// IMDS is plain http on a link-local address, so this one is too. Tokens come from the Entra stand-in.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { EntraStandIn } from "./entra-stand-in.js";

export interface ImdsStandIn {
  /** What AZURE_POD_IDENTITY_AUTHORITY_HOST points at. */
  readonly host: string;
  /** The query of every token request. */
  readonly queries: URLSearchParams[];
  close(): Promise<void>;
}

export async function startImdsStandIn(entra: EntraStandIn, resource: string): Promise<ImdsStandIn> {
  const queries: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://imds");
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    // MSAL normalises the endpoint to end in "/".
    if (url.pathname.replace(/\/$/, "") !== "/metadata/identity/oauth2/token")
      return reply(404, { error: "not_found" });
    queries.push(url.searchParams);
    if (req.headers.metadata !== "true") return reply(400, { error: "invalid_request", error_description: "Metadata" });
    if (url.searchParams.get("resource") !== resource) return reply(400, { error: "invalid_resource" });
    const issued = entra.issueAccessToken();
    const expiresOn = Math.floor(Date.now() / 1000) + issued.expires_in;
    return reply(200, {
      access_token: issued.access_token,
      expires_in: String(issued.expires_in),
      expires_on: String(expiresOn),
      not_before: String(expiresOn - issued.expires_in),
      resource,
      token_type: "Bearer",
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    host: `http://127.0.0.1:${port}`,
    queries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
