// The README's first command: start a throw-away local control plane and show that it is a real one.
import * as k8s from "@kubernetes/client-node";
import { localProvider } from "./cluster/index.ts";

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const cluster = await localProvider.start({ onProgress: (line) => say(`  ${line}`) });
try {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const version = await kc.makeApiClient(k8s.VersionApi).getCode();
  say(`kube-apiserver ${version.gitVersion} at ${kc.getCurrentCluster()?.server}`);
  const namespaces = await core.listNamespace();
  say(`namespaces: ${namespaces.items.map((n) => n.metadata?.name).join(", ")}`);
  const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: "default" });
  say(`ServiceAccount default/default created by kube-controller-manager at ${sa.metadata?.creationTimestamp?.toISOString()}`);
} finally {
  await cluster.stop();
  say("control plane stopped");
}
