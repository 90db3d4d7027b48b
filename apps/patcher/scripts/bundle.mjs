// Bundles the patcher into one ESM file for the container image: dist/bundle/main.mjs.
// Third-party plugin packages are not bundled; they are resolved at run time by package name.
import { build } from "esbuild";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
mkdirSync(new URL("../dist/bundle/", import.meta.url), { recursive: true });
await build({
  entryPoints: [new URL("../dist/main.js", import.meta.url).pathname],
  outfile: new URL("../dist/bundle/main.mjs", import.meta.url).pathname,
  bundle: true,
  platform: "node",
  target: "node24",
  format: "esm",
  minify: false,
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
console.log(`bundled ${pkg.name}@${pkg.version} into dist/bundle/main.mjs`);
