// Doc tests: every shell block of README.md, docs/*.md and docs/guides/*.md runs against the test
// cluster, in order, with its placeholders filled, and the outcome the doc promises is checked. The
// `<!-- doctest: … -->` markers that steer this are described in e2e/src/docs/markdown.ts. A new
// block runs without any change here; a block that is neither a shell block nor marked fails.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, inject, it } from "vitest";
import { ensureHelmBinary } from "../src/deploy/helm.ts";
import { classify, extractBlocks, type CodeBlock } from "../src/docs/markdown.ts";
import { DocSession } from "../src/docs/runner.ts";
import { ensureKubectl } from "../src/docs/tools.ts";
import { adminKubeConfig } from "../src/support/kube.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const BLOCK_TIMEOUT_MS = 240_000;
/** A cold kubectl or helm build takes minutes; with the cache it is instant. */
const TOOLS_TIMEOUT_MS = 30 * 60_000;

function docFiles(): string[] {
  const md = (dir: string): string[] =>
    readdirSync(join(REPO, dir))
      .filter((f) => f.endsWith(".md"))
      .sort()
      .map((f) => join(dir, f));
  return ["README.md", ...md("docs"), ...md("docs/guides")];
}

interface Doc {
  path: string;
  blocks: CodeBlock[];
  error?: Error;
}

const docs: Doc[] = docFiles().map((path) => {
  try {
    return { path, blocks: extractBlocks(readFileSync(join(REPO, path), "utf8"), path) };
  } catch (err) {
    return { path, blocks: [], error: err as Error };
  }
});

const needs = (word: RegExp): boolean =>
  docs.some((d) =>
    d.blocks.some(
      (b) =>
        classify(b).kind === "run" &&
        (word.test(b.text) || b.markers.setup.some((s) => word.test(s)) || b.markers.check.some((s) => word.test(s))),
    ),
  );

// The docs install cluster-wide objects under fixed names, and cleaning up deletes every namespace
// created meanwhile: only on a cluster this run made for itself.
const ownCluster = inject("clusterProvider") !== "existing";

const tools: Record<string, string> = {};
let toolError: Error | undefined;

beforeAll(async () => {
  if (!ownCluster) return;
  const progress = (line: string): void => void process.stderr.write(`[docs] ${line}\n`);
  try {
    tools.kubectl = await ensureKubectl(progress);
    if (needs(/\bhelm\b/)) tools.helm = await ensureHelmBinary(progress);
  } catch (err) {
    toolError = err as Error;
  }
}, TOOLS_TIMEOUT_MS);

for (const doc of docs) {
  // Blocks marked skip (the reason stands next to them in the doc) and output blocks run nothing, so
  // they are not tests; an unmarked block is, and fails.
  const tests = doc.blocks
    .map((b) => ({ block: b, kind: classify(b) }))
    .filter((t) => !["ignore", "file", "skip", "output"].includes(t.kind.kind));
  if (!doc.error && tests.length === 0) continue;

  describe.skipIf(!ownCluster)(doc.path, () => {
    let session: DocSession | undefined;
    let written = 0;

    const error = doc.error;
    if (error) {
      it(`${doc.path}: markers`, () => {
        throw error;
      });
      return;
    }

    beforeAll(async () => {
      if (toolError) return;
      session = await DocSession.open({
        doc: doc.path,
        repoRoot: REPO,
        admin: adminKubeConfig(),
        kubeconfigPath: inject("kubeconfigPath"),
        tools,
      });
    });

    afterAll(async () => {
      const restored = await session?.close();
      if (restored?.length) process.stderr.write(`[docs] ${doc.path}: cleaned up ${restored.length} object(s)\n`);
    }, 60_000);

    for (const { block, kind } of tests) {
      const id = `${doc.path}:${block.line}`;
      if (kind.kind === "unmarked") {
        it(id, () => {
          throw new Error(
            `${id}: unmarked shell block: tag it (\`\`\`bash runs it) or mark it <!-- doctest: skip — reason --> / <!-- doctest: output -->`,
          );
        });
      } else {
        it(
          id,
          async () => {
            if (toolError) throw toolError;
            if (!session) throw new Error(`${doc.path}: no session`);
            // File blocks (`doctest: file NAME`) up to this block, in order.
            for (const f of doc.blocks.filter(
              (b) => b.line < block.line && b.markers.file !== undefined && b.line > written,
            )) {
              session.writeFile(f.markers.file ?? "", f.text);
              written = f.line;
            }
            await session.runBlock(block);
          },
          BLOCK_TIMEOUT_MS,
        );
      }
    }
  });
}
