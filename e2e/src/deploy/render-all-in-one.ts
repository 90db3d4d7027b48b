// Renders deploy/kustomize/base into deploy/all-in-one.yaml (the single-file install).
//   node e2e/src/deploy/render-all-in-one.ts           prints it
//   node e2e/src/deploy/render-all-in-one.ts --write   writes deploy/all-in-one.yaml
//   node e2e/src/deploy/render-all-in-one.ts --check   exits 1 when the file is out of date
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderKustomization } from "./kustomize.ts";

export const DEPLOY_DIR = fileURLToPath(new URL("../../../deploy/", import.meta.url));
export const KUSTOMIZE_BASE = `${DEPLOY_DIR}kustomize/base`;
export const ALL_IN_ONE = `${DEPLOY_DIR}all-in-one.yaml`;

const HEADER = `# imagepullsecret-patcher: everything in one file, for \`kubectl apply -f deploy/all-in-one.yaml\`.
# It does not contain your registry credential: create kube-system/regcred first (docs/install.md).
# GENERATED from deploy/kustomize/base. Do not edit; change the base and run
#   node e2e/src/deploy/render-all-in-one.ts --write
`;

export function renderAllInOne(): string {
  return `${HEADER}---\n${renderKustomization(KUSTOMIZE_BASE)}`;
}

if (import.meta.main) {
  const rendered = renderAllInOne();
  const mode = process.argv[2];
  if (mode === "--write") {
    writeFileSync(ALL_IN_ONE, rendered);
    process.stderr.write(`wrote ${ALL_IN_ONE}\n`);
  } else if (mode === "--check") {
    if (readFileSync(ALL_IN_ONE, "utf8") !== rendered) {
      process.stderr.write(`${ALL_IN_ONE} is out of date; run node e2e/src/deploy/render-all-in-one.ts --write\n`);
      process.exitCode = 1;
    }
  } else {
    process.stdout.write(rendered);
  }
}
