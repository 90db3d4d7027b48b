// The plugin contract kit from core, run against the gcp source: the factory's config rules, and
// the SourceProvider rules with the source pointed at the metadata server and token endpoint stand-ins.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll } from "vitest";
import {
  ManualClock,
  describePluginFactoryContract,
  describeSourceProviderContract,
  type ServeOptions,
  type SourceHarness,
} from "@imagepullsecret-patcher/core/testing";
import { GcpSource, gcpDockerConfigJson, gcpSourceFactory, validateGcpSourceConfig } from "./index.js";
import { MetadataServer } from "./test-support/metadata-server.js";
import { TokenEndpoint } from "./test-support/token-endpoint.js";

const REGISTRIES = ["europe-docker.pkg.dev", "gcr.io"];
const DAY_MS = 86_400_000;

beforeAll(() => {
  process.env.GOOGLE_CLOUD_PROJECT = "standin-project"; // no `gcloud` run for the project id
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
});

describePluginFactoryContract("gcp", {
  factory: gcpSourceFactory,
  valid: [
    { registries: ["europe-docker.pkg.dev"] },
    { registries: ["gcr.io", "eu.gcr.io", "us-central1-docker.pkg.dev"], refreshIntervalSeconds: 60 },
    { registries: ["asia-docker.pkg.dev"], keyFile: "/var/run/secrets/gcp/key.json" },
    { registries: ["gcr.io"], impersonate: "puller@my-project.iam.gserviceaccount.com" },
  ],
  invalid: [
    { config: "europe-docker.pkg.dev", path: "" },
    { config: {}, path: "registries", problem: "is required" },
    { config: { registries: "gcr.io" }, path: "registries", problem: "must be a list" },
    { config: { registries: [] }, path: "registries", problem: "at least one" },
    { config: { registries: [42] }, path: "registries[0]", problem: "must be a string" },
    { config: { registries: ["https://gcr.io"] }, path: "registries[0]", problem: "without scheme or path" },
    { config: { registries: ["gcr.io/my-project"] }, path: "registries[0]", problem: "without scheme or path" },
    { config: { registries: ["docker.io"] }, path: "registries[0]", problem: "Google registry host" },
    { config: { registries: ["europe-docker.pkg.dev.example.com"] }, path: "registries[0]" },
    { config: { registries: ["gcr.io", "gcr.io"] }, path: "registries[1]", problem: "listed twice" },
    { config: { registries: ["gcr.io"], keyFile: "" }, path: "keyFile" },
    { config: { registries: ["gcr.io"], keyFile: 1 }, path: "keyFile" },
    { config: { registries: ["gcr.io"], refreshIntervalSeconds: 0 }, path: "refreshIntervalSeconds" },
    { config: { registries: ["gcr.io"], refreshIntervalSeconds: 7200 }, path: "refreshIntervalSeconds" },
    {
      config: { registries: ["gcr.io"], impersonate: "puller" },
      path: "impersonate",
      problem: "service account email",
    },
    { config: { registries: ["gcr.io"], impersonate: "a@gmail.com" }, path: "impersonate" },
    { config: { registries: ["gcr.io"], impersonate: ["a@p.iam.gserviceaccount.com"] }, path: "impersonate" },
    { config: { registries: ["gcr.io"], projectId: "p" }, path: "projectId", problem: "unknown key" },
  ],
  idempotent: true,
});

/** What a stand-in's next token answers hold, set by the harness. */
interface Issuer {
  fixedToken: string | undefined;
  expiresIn: number;
  failWith: number | undefined;
}

function drive(issuer: Issuer, clock: ManualClock): Pick<SourceHarness, "serve" | "fail" | "serveInvalid"> {
  return {
    serve: (token: string, options?: ServeOptions) => {
      issuer.failWith = undefined;
      issuer.fixedToken = token;
      issuer.expiresIn = options?.expiresAt ? (options.expiresAt.getTime() - clock.now()) / 1000 : 3599;
    },
    fail: () => {
      issuer.failWith = 500;
    },
    serveInvalid: () => {
      issuer.failWith = undefined;
      issuer.fixedToken = "two words";
    },
  };
}

function timing(
  source: GcpSource,
  clock: ManualClock,
): Pick<SourceHarness, "refresh" | "elapse" | "now" | "pendingTimers"> {
  return {
    refresh: () => source.refreshNow(),
    elapse: async () => {
      await clock.advance(DAY_MS);
      await new Promise((resolve) => setTimeout(resolve, 50)); // room for a (forbidden) request to arrive
    },
    now: () => clock.now(),
    pendingTimers: () => clock.pendingDelays().length,
  };
}

describeSourceProviderContract(
  "GcpSource (metadata server)",
  async (): Promise<SourceHarness> => {
    const metadata = await MetadataServer.start();
    process.env.GCE_METADATA_HOST = metadata.host;
    const clock = new ManualClock();
    const source = new GcpSource(validateGcpSourceConfig({ registries: REGISTRIES }), {
      clock,
      random: () => 0.5,
      env: {},
    });
    return {
      source,
      ...drive(metadata, clock),
      ...timing(source, clock),
      credentialFor: (token) => gcpDockerConfigJson(REGISTRIES, token),
      backendReads: () => metadata.tokenRequests().length,
      close: () => metadata.close(),
    };
  },
  { expiry: true },
);

describeSourceProviderContract(
  "GcpSource (service account key file)",
  async (): Promise<SourceHarness> => {
    const endpoint = await TokenEndpoint.start();
    const dir = await mkdtemp(join(tmpdir(), "source-gcp-contract-"));
    const keyFile = join(dir, "key.json");
    await writeFile(keyFile, JSON.stringify(endpoint.createKey()));
    const clock = new ManualClock();
    const source = new GcpSource(validateGcpSourceConfig({ registries: REGISTRIES, keyFile }), {
      clock,
      random: () => 0.5,
    });
    return {
      source,
      ...drive(endpoint, clock),
      ...timing(source, clock),
      credentialFor: (token) => gcpDockerConfigJson(REGISTRIES, token),
      backendReads: () => endpoint.grants.length,
      close: async () => {
        await endpoint.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { expiry: true },
);
