// Local stand-ins of Google's metadata server and token endpoint, written from their documented wire formats
// (each file cites them): this package's tests and the e2e suite run the gcp source against them.
export * from "./metadata-server.js";
export * from "./token-endpoint.js";
