#!/usr/bin/env node
import { VERSION } from "./version.js";

const [command = "help"] = process.argv.slice(2);
if (command === "version" || command === "--version") {
  process.stdout.write(`imagepullsecret-patcher ${VERSION}\n`);
} else {
  process.stdout.write(`imagepullsecret-patcher ${VERSION}\n\nUsage: imagepullsecret-patcher version\n`);
  if (command !== "help" && command !== "--help") process.exitCode = 2;
}
