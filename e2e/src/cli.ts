// Starts or stops a local control plane for manual use:
//   pnpm cluster:start   → prints the kubeconfig path
//   pnpm cluster:stop
import { localProvider, stopFromState, readState } from "./cluster/index.ts";
import { localClusterRunning } from "./cluster/local/local-provider.ts";

const command = process.argv[2];
const log = (line: string): void => void process.stderr.write(`${line}\n`);

if (command === "start") {
  if (localClusterRunning()) {
    log("a local cluster is already running");
  } else {
    const cluster = await localProvider.start({ detached: true, onProgress: log });
    log(`local cluster running; stop it with: pnpm cluster:stop`);
    void cluster;
  }
  const state = readState();
  process.stdout.write(`export KUBECONFIG=${state?.kubeconfigPath}\n`);
} else if (command === "stop") {
  const stopped = await stopFromState();
  log(stopped > 0 ? `stopped ${stopped} process(es)` : "no local cluster was running");
} else {
  log("usage: node e2e/src/cli.ts start|stop");
  process.exitCode = 2;
}
