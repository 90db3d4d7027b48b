// Local stand-ins of Entra ID's token endpoint and ACR's /oauth2/exchange, written from their documented wire
// formats (each file cites them), with a test CA: this package's tests and the e2e suite run the acr source
// against them.
export * from "./acr-exchange-stand-in.js";
export * from "./entra-stand-in.js";
export * from "./https-stand-in.js";
export * from "./test-ca.js";
