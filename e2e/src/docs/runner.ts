// Runs a doc's shell blocks the way a reader would: bash, in a working directory that looks like a
// checkout of this repository, with a HOME of its own whose ~/.kube/config (and KUBECONFIG) is the
// test cluster's admin kubeconfig, `kubectl` and the patcher binary (`imagepullsecret-patcher`) on
// PATH. Blocks of one doc share that directory, exported variables, the working directory and the
// processes they leave running in the background; `close` stops those processes and puts the
// cluster back the way the doc found it.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type * as k8s from "@kubernetes/client-node";
import { TEST_PASSWORD_PREFIX } from "../support/fixtures.ts";
import { PATCHER_MAIN } from "../support/patcher-process.ts";
import { ClusterSnapshot } from "./cleanup.ts";
import { startDeploymentStandIn, type StandIn } from "./deployment.ts";
import { outputMatches, parseConsole, parseSynopsis, splitCommands, type CodeBlock } from "./markdown.ts";
import { fillPlaceholders } from "./placeholders.ts";
import { BLOCK_TIMEOUT_MS, EVENTUALLY_MS, PRELUDE, alive, q, runsForever, signalGroup } from "./shell.ts";

export { EVENTUALLY_MS, runsForever } from "./shell.ts";

/** What a block printed, and what went wrong, if anything. */
interface BlockRun {
  stdout: string;
  stderr: string;
  problem?: string;
}

export interface SessionOptions {
  /** The doc's path relative to the repository, for messages. */
  doc: string;
  repoRoot: string;
  admin: k8s.KubeConfig;
  kubeconfigPath: string;
  /** Binaries to put on PATH by name, e.g. { kubectl: "/…/kubectl", helm: "/…/helm" }. */
  tools: Record<string, string>;
}

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class DocSession {
  readonly dir: string;
  readonly home: string;
  readonly work: string;
  readonly bin: string;
  /** The registry password `…` stands for; contains the suite's leak-check prefix. */
  readonly password = `${TEST_PASSWORD_PREFIX}doc-${randomBytes(4).toString("hex")}`;
  private readonly standIns: StandIn[] = [];
  private readonly stoppedLogs: string[] = [];
  private snapshot: ClusterSnapshot | undefined;

  private readonly o: SessionOptions;

  private constructor(o: SessionOptions) {
    this.o = o;
    this.dir = mkdtempSync(join(tmpdir(), "doctest-"));
    this.home = join(this.dir, "home");
    this.work = join(this.dir, "work");
    this.bin = join(this.dir, "bin");
    for (const d of [this.home, join(this.home, ".kube"), this.work, this.bin]) mkdirSync(d, { recursive: true });
    copyFileSync(o.kubeconfigPath, join(this.home, ".kube", "config"));
    // The working directory looks like a checkout: every top-level entry, linked, except what a doc
    // may write into (node_modules, next to a config file) and what belongs to other runs.
    for (const entry of readdirSync(o.repoRoot)) {
      if ([".git", ".e2e", ".turbo", "node_modules"].includes(entry)) continue;
      symlinkSync(join(o.repoRoot, entry), join(this.work, entry));
    }
    writeFileSync(
      join(this.bin, "imagepullsecret-patcher"),
      `#!/bin/sh\nexec ${q(process.execPath)} ${q(PATCHER_MAIN)} "$@"\n`,
    );
    chmodSync(join(this.bin, "imagepullsecret-patcher"), 0o755);
    for (const [name, path] of Object.entries(o.tools)) symlinkSync(path, join(this.bin, name));
  }

  static async open(o: SessionOptions): Promise<DocSession> {
    const session = new DocSession(o);
    session.snapshot = await ClusterSnapshot.take(o.admin);
    return session;
  }

  private env(): Record<string, string> {
    return {
      PATH: [this.bin, dirname(process.execPath), process.env.PATH ?? "/usr/bin:/bin"].join(":"),
      HOME: this.home,
      KUBECONFIG: join(this.home, ".kube", "config"),
      LANG: "C.UTF-8",
      TMPDIR: this.dir,
      DOCTEST_DIR: this.dir,
      DOCTEST_REPO: this.o.repoRoot,
      DOCTEST_PASSWORD: this.password,
      // Credentials the docs take from the environment (`"${REGISTRY_PASSWORD:-example}"`).
      REGISTRY_PASSWORD: this.password,
      TEAM_A_PASSWORD: `${this.password}-a`,
      TEAM_B_PASSWORD: `${this.password}-b`,
      npm_config_update_notifier: "false",
    };
  }

  /** Writes a file block (`doctest: file NAME`) into the working directory. */
  writeFile(name: string, text: string): void {
    const path = join(this.work, name);
    mkdirSync(dirname(path), { recursive: true });
    if (!realpathSync(dirname(path)).startsWith(realpathSync(this.work)))
      throw new Error(`doctest: file ${name} would be written into the repository`);
    writeFileSync(path, text);
  }

  /** Runs `body` (already transformed) with bash; never rejects for a non-zero exit. */
  async shell(body: string, timeoutMs = BLOCK_TIMEOUT_MS): Promise<ShellResult> {
    const script = join(this.dir, `script-${Date.now()}-${randomBytes(2).toString("hex")}.sh`);
    writeFileSync(script, PRELUDE + body);
    rmSync(join(this.dir, "failed-command"), { force: true });
    return new Promise((resolve) => {
      const child = spawn("bash", ["--noprofile", "--norc", script], {
        cwd: this.work,
        env: this.env(),
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        stderr += `\n[doctest] still running after ${timeoutMs} ms: stopped\n`;
        try {
          process.kill(-(child.pid ?? 0), "SIGKILL");
        } catch {
          /* gone */
        }
      }, timeoutMs);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** The commands of a shell block, rewritten: placeholders filled, background and retry wrappers. */
  transform(block: CodeBlock): string {
    const lines: string[] = [];
    const omitted = new Set<string>();
    for (const c of splitCommands(block.text)) {
      const omit = block.markers.omit.find((o) => c.text.trim().startsWith(o.prefix));
      if (omit) {
        omitted.add(omit.prefix);
        lines.push(`# omitted (${omit.reason}): ${c.text.split("\n")[0]}`);
        continue;
      }
      const command = fillPlaceholders(c.text);
      if (runsForever(command, block.markers.background)) lines.push(`__doctest_bg ${q(command)}`);
      else if (block.markers.eventually) lines.push(`__doctest_retry ${q(command)}`);
      else lines.push(command);
    }
    const unused = block.markers.omit.filter((o) => !omitted.has(o.prefix));
    if (unused.length)
      throw new Error(
        `doctest: omit ${unused.map((o) => JSON.stringify(o.prefix)).join(", ")} matches no command of the block`,
      );
    return `${lines.join("\n")}\n`;
  }

  private failedCommand(): string {
    const path = join(this.dir, "failed-command");
    return existsSync(path) ? readFileSync(path, "utf8").trim() : "";
  }

  /** Logs of background processes and Deployment stand-ins, the tail of each, for failure messages. */
  backgroundLogs(chars = 3000): string {
    return this.logFiles()
      .map((f) => `--- ${f}\n${readFileSync(f, "utf8").slice(-chars)}`)
      .join("\n");
  }

  private logFiles(): string[] {
    return readdirSync(this.dir)
      .filter((f) => f.startsWith("background-") && f.endsWith(".log"))
      .map((f) => join(this.dir, f))
      .concat(
        this.standIns.map((s) => s.logFile),
        this.stoppedLogs,
      );
  }

  private describeFailure(what: string, r: ShellResult): string {
    const failed = this.failedCommand();
    return [
      `${what} exited ${r.code}${failed ? ` at: ${failed}` : ""}`,
      r.stdout.trim() && `stdout:\n${r.stdout.trim().slice(-3000)}`,
      r.stderr.trim() && `stderr:\n${r.stderr.trim().slice(-3000)}`,
    ]
      .filter(Boolean)
      .join("\n");
  }

  /** Runs one block with its markers; throws with what went wrong. */
  async runBlock(block: CodeBlock): Promise<void> {
    const id = `${this.o.doc}:${block.line}`;
    if (block.markers.reset) await this.reset();
    for (const setup of block.markers.setup) {
      const r = await this.shell(setup);
      if (r.code !== 0) throw new Error(`${id}: ${this.describeFailure("doctest setup", r)}`);
    }
    const deadline = Date.now() + EVENTUALLY_MS;
    for (;;) {
      const problem = await this.attempt(block, id);
      if (problem === undefined) break;
      if (!block.markers.retry || Date.now() > deadline) throw new Error(problem);
      await sleep(500);
    }
    if (block.markers.deployment) {
      const { namespace, name } = block.markers.deployment;
      this.standIns.push(
        await startDeploymentStandIn(
          this.o.admin,
          namespace,
          name,
          join(this.dir, `deployment-${namespace}-${name}-${this.standIns.length + this.stoppedLogs.length}`),
        ),
      );
    }
    for (const check of block.markers.check) {
      const deadline = Date.now() + EVENTUALLY_MS;
      let r: ShellResult;
      for (;;) {
        r = await this.shell(check);
        if (r.code === 0 || Date.now() > deadline) break;
        await sleep(500);
      }
      if (r.code !== 0) {
        throw new Error(
          `${id}: the promised outcome did not happen within ${EVENTUALLY_MS / 1000} s.\ncheck:\n${check}${this.describeFailure("the check", r)}\n${this.backgroundLogs()}`,
        );
      }
    }
  }

  /** The block itself and its expectations, once; returns what went wrong. */
  private async attempt(block: CodeBlock, id: string): Promise<string | undefined> {
    if (block.markers.synopsis) return this.checkSynopsis(block, id);
    const ran = block.lang === "console" ? await this.runConsole(block, id) : await this.runScript(block, id);
    if (ran.problem) return ran.problem;
    const { stdout, stderr } = ran;
    for (const e of block.markers.expect) {
      const text = e.stream === "stdout" ? stdout : e.stream === "stderr" ? stderr : stdout + stderr;
      if (text.includes(e.contains) === !!e.negate) {
        const wanted = `${e.stream} ${e.negate ? "not " : ""}to contain ${JSON.stringify(e.contains)}`;
        return `${id}: expected ${wanted}\nstdout:\n${stdout}\nstderr:\n${stderr}`;
      }
    }
    return undefined;
  }

  /** Every option a synopsis shows must be known to the command's `--help`. */
  private async checkSynopsis(block: CodeBlock, id: string): Promise<string | undefined> {
    for (const line of parseSynopsis(block.text)) {
      const help = `${line.program} ${line.command} --help`;
      const r = await this.shell(`${help}\n`);
      if (r.code !== 0) return `${id}: ${this.describeFailure(help, r)}`;
      const missing = line.options.filter((o) => !new RegExp(`(^|[\\s,])${o}([\\s,=]|$)`, "m").test(r.stdout));
      if (missing.length) return `${id}: \`${help}\` does not know ${missing.join(", ")}:\n${r.stdout}`;
    }
    return undefined;
  }

  /** A console block: each `$ command` runs, and its output must match what the doc shows. */
  private async runConsole(block: CodeBlock, id: string): Promise<BlockRun> {
    const expectedCode = block.markers.exitCode ?? 0;
    let stdout = "";
    let stderr = "";
    for (const step of parseConsole(block.text)) {
      const r = await this.shell(`${fillPlaceholders(step.command)}\n`);
      stdout += r.stdout;
      stderr += r.stderr;
      if (r.code !== expectedCode)
        return { stdout, stderr, problem: `${id}: ${this.describeFailure(`$ ${step.command}`, r)}` };
      if (step.expected.trim() && !outputMatches(step.expected, r.stdout + r.stderr)) {
        const problem = `${id}: $ ${step.command}\nthe doc shows:\n${step.expected}\nit printed:\n${r.stdout}${r.stderr}`;
        return { stdout, stderr, problem };
      }
    }
    return { stdout, stderr };
  }

  private async runScript(block: CodeBlock, id: string): Promise<BlockRun> {
    const expectedCode = block.markers.exitCode ?? 0;
    const r = await this.shell(this.transform(block));
    if (r.code === expectedCode) return { stdout: r.stdout, stderr: r.stderr };
    const problem = `${id}: ${this.describeFailure(`the block (expected exit ${expectedCode})`, r)}`;
    return { stdout: r.stdout, stderr: r.stderr, problem };
  }

  /** Stops what the doc left running. */
  private async stopProcesses(): Promise<void> {
    const pids: number[] = this.standIns.map((s) => s.child.pid ?? 0);
    const list = join(this.dir, "background.list");
    if (existsSync(list)) {
      for (const line of readFileSync(list, "utf8").split("\n")) if (line.trim()) pids.push(Number(line.split(" ")[0]));
    }
    for (const pid of pids) signalGroup(pid, "SIGTERM");
    const deadline = Date.now() + 15_000;
    while (pids.some(alive) && Date.now() < deadline) await sleep(100);
    for (const pid of pids) if (alive(pid)) signalGroup(pid, "SIGKILL");
    this.stoppedLogs.push(...this.standIns.map((s) => s.logFile));
    this.standIns.length = 0;
    if (existsSync(list)) renameSync(list, `${list}.${Date.now()}`);
  }

  private checkLeaks(): void {
    const leaks = this.logFiles().filter((f) => {
      const text = readFileSync(f, "utf8");
      return text.includes(this.password) || text.includes(Buffer.from(this.password).toString("base64"));
    });
    if (leaks.length) throw new Error(`${this.o.doc}: the registry password appears in ${leaks.join(", ")}`);
  }

  /** `doctest: reset`: another way to do the same, from a cluster as the doc found it. */
  private async reset(): Promise<void> {
    await this.stopProcesses();
    this.checkLeaks();
    await this.snapshot?.restore();
    this.snapshot = await ClusterSnapshot.take(this.o.admin);
  }

  /** Stops background processes, checks their logs for the credential, restores the cluster. */
  async close(): Promise<string[]> {
    await this.stopProcesses();
    let leak: Error | undefined;
    try {
      this.checkLeaks();
    } catch (err) {
      leak = err as Error;
    }
    const restored = (await this.snapshot?.restore()) ?? [];
    if (!process.env.DOCTEST_KEEP) rmSync(this.dir, { recursive: true, force: true });
    if (leak) throw leak;
    return restored;
  }
}
