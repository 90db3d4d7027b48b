// Every use of @peculiar/x509 in core goes through this module, so the Reflect polyfill it needs runs first.
import "./reflect-metadata.js";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

export { x509 };

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/**
 * Node's WebCrypto, handed to every @peculiar/x509 call so that library's process-wide provider is neither set
 * nor relied on.
 */
export const crypto: webcrypto.Crypto = webcrypto;
