import * as k8s from "@kubernetes/client-node";
import { eventually, statusCode } from "./kube.ts";

/** Every credential the e2e suites create contains this, so tests can prove it never leaks. */
export const TEST_PASSWORD_PREFIX = "e2e-sekret-";

export function dockerConfigJson(password: string, registry = "registry.example.test"): string {
  return JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`robot:${password}`).toString("base64") } } });
}

export function b64(s: string): string {
  return Buffer.from(s).toString("base64");
}

export async function putSourceSecret(
  core: k8s.CoreV1Api,
  namespace: string,
  name: string,
  password: string,
  type = "kubernetes.io/dockerconfigjson",
): Promise<k8s.V1Secret> {
  const body: k8s.V1Secret = {
    metadata: { name, namespace },
    type,
    data: { ".dockerconfigjson": b64(dockerConfigJson(password)) },
  };
  try {
    const existing = await core.readNamespacedSecret({ name, namespace });
    return await core.replaceNamespacedSecret({
      name,
      namespace,
      body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } },
    });
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
    return core.createNamespacedSecret({ namespace, body });
  }
}

export function decodeCopy(secret: k8s.V1Secret): string {
  return Buffer.from(secret.data?.[".dockerconfigjson"] ?? "", "base64").toString("utf8");
}

export async function readSecret(
  core: k8s.CoreV1Api,
  namespace: string,
  name: string,
): Promise<k8s.V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ name, namespace });
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

/** Waits until the copy exists and holds the credential with `password`. */
export async function waitForCopy(
  core: k8s.CoreV1Api,
  namespace: string,
  name: string,
  password: string,
): Promise<k8s.V1Secret> {
  return eventually(`copy ${namespace}/${name} with the expected credential`, async () => {
    const s = await readSecret(core, namespace, name);
    return s && decodeCopy(s) === dockerConfigJson(password) ? s : undefined;
  });
}

export async function waitForNoSecret(core: k8s.CoreV1Api, namespace: string, name: string): Promise<void> {
  await eventually(`Secret ${namespace}/${name} to be gone`, async () =>
    (await readSecret(core, namespace, name)) ? undefined : true,
  );
}

export async function pullSecretNames(
  core: k8s.CoreV1Api,
  namespace: string,
  sa: string,
): Promise<string[] | undefined> {
  try {
    const obj = await core.readNamespacedServiceAccount({ name: sa, namespace });
    return (obj.imagePullSecrets ?? []).map((r) => r.name ?? "");
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

/** Waits until the ServiceAccount's imagePullSecrets equal `expected` exactly, in order. */
export async function waitForPullSecrets(
  core: k8s.CoreV1Api,
  namespace: string,
  sa: string,
  expected: string[],
): Promise<void> {
  await eventually(`${namespace}/${sa} imagePullSecrets = [${expected.join(",")}]`, async () => {
    const names = await pullSecretNames(core, namespace, sa);
    return names && JSON.stringify(names) === JSON.stringify(expected) ? true : undefined;
  });
}

export async function waitForDefaultServiceAccount(core: k8s.CoreV1Api, namespace: string): Promise<void> {
  await eventually(`default ServiceAccount in ${namespace}`, async () =>
    (await pullSecretNames(core, namespace, "default")) ? true : undefined,
  );
}

/** events.k8s.io Events about an object, newest last. */
export async function eventsFor(kc: k8s.KubeConfig, namespace: string, name: string): Promise<k8s.EventsV1Event[]> {
  const events = await kc.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace });
  return events.items.filter((e) => e.regarding?.name === name);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
