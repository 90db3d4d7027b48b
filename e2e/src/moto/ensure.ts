// Installs moto into its cached venv ahead of the e2e run (scripts/test), so no test hook waits on pip.
import { ensureMotoServer } from "./install.ts";

const binary = await ensureMotoServer((line) => process.stderr.write(`${line}\n`));
process.stdout.write(`${binary}\n`);
