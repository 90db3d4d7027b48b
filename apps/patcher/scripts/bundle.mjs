// Bundles the patcher for the container image: dist/bundle/main.mjs, plus one chunk per cloud source package
// (ecr, gcp, acr) that main.mjs imports only when a mapping uses it, and the chunks they share with it.
// Third-party plugin packages are not bundled; they are resolved at run time by package name.
import { build } from "esbuild";
import { createRequire } from "node:module";
import { readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";

const requireHere = createRequire(import.meta.url);
const CLOUD_SOURCES = ["ecr", "gcp", "acr"];
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

// The image's ENTRYPOINT and ENV must carry node-flags.json's flags and environment, which the bench
// also runs the bundle with.
const { flags, env = {} } = JSON.parse(readFileSync(new URL("../node-flags.json", import.meta.url), "utf8"));
const dockerfile = readFileSync(new URL("../Dockerfile", import.meta.url), "utf8");
const entrypoint = JSON.stringify(["/nodejs/bin/node", ...flags, "/app/bundle/main.mjs"]).replaceAll(",", ", ");
if (!dockerfile.includes(`ENTRYPOINT ${entrypoint}`)) {
  throw new Error(`apps/patcher/Dockerfile: ENTRYPOINT must be ${entrypoint}, the flags of node-flags.json`);
}
for (const [name, value] of Object.entries(env)) {
  if (!dockerfile.includes(`ENV ${name}=${value}\n`)) {
    throw new Error(`apps/patcher/Dockerfile: must set ENV ${name}=${value}, as node-flags.json's "env" does`);
  }
}
// Chunks of an earlier build would otherwise stay next to the new ones.
rmSync(new URL("../dist/bundle/", import.meta.url), { recursive: true, force: true });
mkdirSync(new URL("../dist/bundle/", import.meta.url), { recursive: true });
await build({
  entryPoints: {
    main: new URL("../dist/main.js", import.meta.url).pathname,
    // Entry points too, so each gets a name that says what it is: sources/ecr.mjs, …
    ...Object.fromEntries(
      CLOUD_SOURCES.map((type) => [`sources/${type}`, requireHere.resolve(`@imagepullsecret-patcher/source-${type}`)]),
    ),
  },
  outdir: new URL("../dist/bundle/", import.meta.url).pathname,
  outExtension: { ".js": ".mjs" },
  // The cloud sources' SDKs stay out of main.mjs: the literal import() of each package becomes a chunk.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  platform: "node",
  target: "node24",
  format: "esm",
  // Minified: 7-13 MB less RSS; keepNames would cost 12-17 MB of that back (docs/performance.md).
  minify: true,
  sourcemap: false,
  legalComments: "external",
  // Some dependencies still call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: "warning",
});
// version.ts reads ../package.json relative to itself; ship a minimal one next to the bundle.
writeFileSync(
  new URL("../dist/package.json", import.meta.url),
  JSON.stringify({ name: pkg.name, version: pkg.version, type: "module" }) + "\n",
);
writeFileSync(
  new URL("../dist/bundle/package.json", import.meta.url),
  JSON.stringify({ name: pkg.name, version: pkg.version, type: "module" }) + "\n",
);
console.log(`bundled ${pkg.name}@${pkg.version} into dist/bundle/ (main.mjs and chunks/)`);
