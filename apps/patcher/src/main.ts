#!/usr/bin/env node
import "reflect-metadata";
import { Command } from "commander";
import { VERSION } from "./version.js";
import { runCli } from "./cli.js";

const program = new Command();
await runCli(program, process.argv, VERSION).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
