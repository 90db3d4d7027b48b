// The `ecr` source in the real patcher process, signed in the way IRSA does it on EKS: a projected
// ServiceAccount token (TokenRequest, audience sts.amazonaws.com) in AWS_WEB_IDENTITY_TOKEN_FILE with
// AWS_ROLE_ARN and AWS_REGION, no static keys. STS and ECR are moto (e2e/src/moto/), reached through
// AWS_ENDPOINT_URL, which the SDK applies to ECR and to the STS client of its web identity provider.
//
// Moto's quirks, and how the test lives with them:
// - every token it issues expires on 2015-01-01, so the patcher warns once and refreshes every
//   `refreshInterval` (2 s here) instead of by expiry;
// - its password is a function of the calling account (`<account>-auth-token`), so it never changes
//   on its own. `POST /moto-api/reset` makes moto forget the STS sessions it issued; the patcher's
//   cached session keys then count as moto's default account (123456789012), and ECR answers the
//   same registries with another password: a rotation, as the patcher sees it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { freePort } from "../src/cluster/local/processes.ts";
import {
  assumeRoleWithWebIdentity,
  getAuthorizationToken,
  stsSessions,
  type AuthorizationData,
  type StsCredentials,
} from "../src/moto/aws-api.ts";
import { ensureMotoServer } from "../src/moto/install.ts";
import { MotoServer } from "../src/moto/moto-server.ts";
import { TEST_PASSWORD_PREFIX, decodeCopy, readSecret } from "../src/support/fixtures.ts";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { PatcherProcess, runPatcher } from "../src/support/patcher-process.ts";

const ROLE_ARN = "arn:aws:iam::111111111111:role/imagepullsecret-patcher";
/** A role in the registry's account, for role chaining through a config profile. */
const REGISTRY_ROLE_ARN = "arn:aws:iam::222222222222:role/ecr-puller";
const REGION = "eu-west-1";
const SECRET_NAME = "ecr-pull";
/** The registries of the mapping: the role's own account, another account, and a second region. */
const HOSTS = [
  "111111111111.dkr.ecr.eu-west-1.amazonaws.com",
  "111111111111.dkr.ecr.us-east-1.amazonaws.com",
  "222222222222.dkr.ecr.eu-west-1.amazonaws.com",
];

interface Login {
  username: string;
  password: string;
  auth: string;
}

/** The `.dockerconfigjson` text the patcher must write for one token from ECR. */
function expectedAuths(data: AuthorizationData): Record<string, Login> {
  const [username = "", password = ""] = Buffer.from(data.authorizationToken, "base64").toString().split(/:(.*)/s);
  const login = { username, password, auth: data.authorizationToken };
  return Object.fromEntries(HOSTS.map((host) => [host, login]));
}

describe("ecr source in the patcher app", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const kubeconfig = inject("kubeconfigPath");
  const dir = mkdtempSync(join(tmpdir(), "source-ecr-e2e-"));
  const suite = uniqueName("ecr");
  const outputs: string[] = [];
  /** Everything that must never be shown: passwords, tokens, STS keys, the projected token. */
  const secrets = new Set<string>();
  let moto: MotoServer;
  let targets: string[] = [];
  let configFile = "";
  let irsaEnv: Record<string, string> = {};
  let webIdentityToken = "";
  let tokenFile = "";
  let patcher: PatcherProcess | undefined;
  let port = 0;
  /** The session the test signed in with itself, as the patcher does. */
  let session: StsCredentials;

  const remember = (data: AuthorizationData): AuthorizationData => {
    secrets.add(data.authorizationToken);
    for (const login of Object.values(expectedAuths(data))) secrets.add(login.password);
    return data;
  };
  const rememberSessions = async (): Promise<void> => {
    for (const s of await stsSessions(moto.endpoint)) {
      secrets.add(s.secretAccessKey);
      secrets.add(s.sessionToken);
    }
  };
  const metrics = async (): Promise<string> => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    outputs.push(text);
    return text;
  };
  const sourceState = async (state: string): Promise<true | undefined> =>
    (await metrics()).includes(`imagepullsecret_patcher_source_state{mapping="aws",state="${state}"} 1`)
      ? true
      : undefined;
  const authsIn = async (namespace: string): Promise<Record<string, Login> | undefined> => {
    const secret = await readSecret(core, namespace, SECRET_NAME);
    return secret ? (JSON.parse(decodeCopy(secret)) as { auths: Record<string, Login> }).auths : undefined;
  };
  /** Waits until every target's copy holds exactly `expected`. */
  const waitForCopies = (what: string, expected: Record<string, Login>, timeoutMs = 20_000): Promise<true> =>
    eventually(
      what,
      async () => {
        const copies = await Promise.all(targets.map((ns) => authsIn(ns)));
        return copies.every((auths) => JSON.stringify(auths) === JSON.stringify(expected)) ? true : undefined;
      },
      timeoutMs,
    );

  beforeAll(async () => {
    moto = await MotoServer.start(await ensureMotoServer((line) => process.stderr.write(`${line}\n`)));

    // What the EKS Pod Identity webhook projects into the Pod for IRSA: a token for STS's audience.
    const home = await namespaces.create("ecr-patcher");
    await core.createNamespacedServiceAccount({ namespace: home, body: { metadata: { name: "patcher" } } });
    const request = await core.createNamespacedServiceAccountToken({
      name: "patcher",
      namespace: home,
      body: { spec: { audiences: ["sts.amazonaws.com"], expirationSeconds: 3600 } },
    });
    webIdentityToken = request.status?.token ?? "";
    expect(webIdentityToken).not.toBe("");
    secrets.add(webIdentityToken);
    tokenFile = join(dir, "token");
    writeFileSync(tokenFile, webIdentityToken);

    targets = [await namespaces.create("ecr-a", { suite }), await namespaces.create("ecr-b", { suite })];
    configFile = join(dir, "config.yaml");
    writeFileSync(
      configFile,
      `secretName: ${SECRET_NAME}
mappings:
  - name: aws
    source:
      ecr:
        registries:
          - { region: ${REGION}, registryId: "111111111111" }
          - { region: ${REGION}, registryId: "222222222222" }
          - { region: us-east-1, registryId: "111111111111" }
        refreshInterval: 2s
        minRefreshInterval: 1s
    targets: { selector: { matchLabels: { suite: ${suite} } } }
controller: { resyncInterval: 0 }
`,
    );
    irsaEnv = {
      AWS_ROLE_ARN: ROLE_ARN,
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL: moto.endpoint,
      // No shared config or credentials files from the machine running the tests.
      AWS_CONFIG_FILE: join(dir, "no-aws-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-aws-credentials"),
    };
    session = await assumeRoleWithWebIdentity(moto.endpoint, ROLE_ARN, webIdentityToken);
  });

  afterAll(async () => {
    if (patcher) {
      const code = await patcher.stop();
      outputs.push(patcher.stdout, patcher.stderr);
      expect(code).toBe(0);
    }
    await moto?.dispose();
    await namespaces.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("plan signs in through STS and shows the copies it would create", async () => {
    const plan = await runPatcher(["plan", "--config", configFile, "--kubeconfig", kubeconfig], irsaEnv);
    outputs.push(plan.stdout, plan.stderr);
    expect(plan.code, plan.stderr).toBe(0);
    for (const ns of targets)
      expect(plan.stdout).toMatch(new RegExp(`aws\\s+${ns}\\s+create\\s+Secret ${SECRET_NAME}`));
    for (const ns of targets) expect(await readSecret(core, ns, SECRET_NAME)).toBeUndefined();
    await rememberSessions();
  });

  it("copies the ECR logins of every registry into every target namespace", async () => {
    const expected = remember(await getAuthorizationToken(moto.endpoint, session.accessKeyId, REGION));
    port = await freePort();
    const args = ["run", "--config", configFile, "--kubeconfig", kubeconfig, "--server-address", `127.0.0.1:${port}`];
    patcher = new PatcherProcess(args, irsaEnv);
    await waitForCopies("the copies", expectedAuths(expected));
    expect(expectedAuths(expected)[HOSTS[0] ?? ""]?.username).toBe("AWS");
    const secret = await readSecret(core, targets[0] ?? "", SECRET_NAME);
    expect(secret?.type).toBe("kubernetes.io/dockerconfigjson");
    await eventually("ready", () => sourceState("ready"));
    // Moto's 2015 expiry: said once, then refreshed on refreshInterval.
    await patcher.waitForLog((l) => String(l.msg).startsWith("ECR reported an expiry in the past"), 5_000);
    await rememberSessions(); // the patcher's STS session, before a reset makes moto forget it
  });

  it("rotates the copies in place when ECR hands out another password", async () => {
    const uid = (await readSecret(core, targets[0] ?? "", SECRET_NAME))?.metadata?.uid;
    const before = await authsIn(targets[0] ?? "");
    await moto.reset();
    const rotated = remember(await getAuthorizationToken(moto.endpoint, session.accessKeyId, REGION));
    expect(expectedAuths(rotated)[HOSTS[0] ?? ""]?.password).not.toBe(before?.[HOSTS[0] ?? ""]?.password);
    await waitForCopies("rotated copies", expectedAuths(rotated));
    expect((await readSecret(core, targets[0] ?? "", SECRET_NAME))?.metadata?.uid).toBe(uid);
    await patcher?.waitForLog((l) => l.msg === "credential changed", 5_000);
  });

  it("keeps the last good copies while AWS is down, reports degraded, then recovers", async () => {
    const kept = await authsIn(targets[0] ?? "");
    expect(kept).toBeDefined();
    await moto.stop();
    await eventually("degraded", () => sourceState("degraded"), 20_000);
    const failure = await patcher?.waitForLog(
      (l) => l.msg === "source failed; keeping the last good credential" && String(l.error).includes("ECONNREFUSED"),
      10_000,
    );
    expect(failure?.error).toMatch(
      new RegExp(`GetAuthorizationToken in \\S+: cannot reach 127.0.0.1:${moto.port} \\(ECONNREFUSED\\)$`),
    );
    for (const ns of targets) expect(await authsIn(ns)).toEqual(kept);
    await moto.resume();
    await eventually("ready again", () => sourceState("ready"), 30_000);
    await patcher?.waitForLog((l) => l.msg === "source recovered", 5_000);
    for (const ns of targets) expect(await authsIn(ns)).toEqual(kept);
  });

  it("signs in as another account's role through a profile of AWS_CONFIG_FILE (role chaining)", async () => {
    const awsConfig = join(dir, "aws-config");
    writeFileSync(
      awsConfig,
      `[profile irsa]\nrole_arn = ${ROLE_ARN}\nweb_identity_token_file = ${tokenFile}\n\n` +
        `[profile registry-b]\nrole_arn = ${REGISTRY_ROLE_ARN}\nsource_profile = irsa\n`,
    );
    const chainedSuite = `${suite}-chained`;
    const namespace = await namespaces.create("ecr-chained", { suite: chainedSuite });
    const config = join(dir, "chained.yaml");
    writeFileSync(
      config,
      `secretName: ecr-chained
mappings:
  - name: aws-chained
    source:
      ecr:
        registries: [{ region: ${REGION}, registryId: "222222222222", profile: registry-b }]
    targets: { selector: { matchLabels: { suite: ${chainedSuite} } } }
`,
    );
    const args = ["run", "--once", "--config", config, "--kubeconfig", kubeconfig];
    const once = await runPatcher(args, { ...irsaEnv, AWS_CONFIG_FILE: awsConfig });
    outputs.push(once.stdout, once.stderr);
    expect(once.code, once.stderr).toBe(0);
    // Moto's password names the calling account: any session of the registry account's role gets it.
    const asRegistryRole = await assumeRoleWithWebIdentity(moto.endpoint, REGISTRY_ROLE_ARN, webIdentityToken);
    const expected = remember(await getAuthorizationToken(moto.endpoint, asRegistryRole.accessKeyId, REGION));
    const login = expectedAuths(expected)[HOSTS[2] ?? ""];
    const copy = await readSecret(core, namespace, "ecr-chained");
    expect(copy && JSON.parse(decodeCopy(copy))).toEqual({ auths: { [HOSTS[2] ?? ""]: login } });
    expect(login?.password).toContain("222222222222");
  });

  it("never shows a token, a password or an AWS secret: not in output, Events, metrics or plan", async () => {
    await rememberSessions();
    const events = await core.listEventForAllNamespaces();
    const eventsV1 = await kc.makeApiClient(k8s.EventsV1Api).listEventForAllNamespaces();
    const seen = [
      ...outputs,
      patcher?.stdout ?? "",
      patcher?.stderr ?? "",
      JSON.stringify(events.items),
      JSON.stringify(eventsV1.items),
      await metrics(),
    ].join("\n");
    // Two passwords and tokens, the projected token, and a key and session token per STS session
    // (the test's, plan's and the patcher's at least).
    expect(secrets.size).toBeGreaterThanOrEqual(2 * 2 + 1 + 3 * 2);
    for (const secret of secrets) expect(seen).not.toContain(secret);
    expect(seen).not.toContain(webIdentityToken.split(".").at(-1) ?? webIdentityToken);
    expect(seen).not.toContain(TEST_PASSWORD_PREFIX);
    // The logs do say what happened, by source name and registry.
    expect(patcher?.stdout).toContain("ecr 111111111111/eu-west-1, 222222222222/eu-west-1, 111111111111/us-east-1");
    expect(patcher?.stdout).toContain(HOSTS[2]);
  });
});
