import { describe, expect, it } from "vitest";
import {
  classify,
  extractBlocks,
  type CodeBlock,
  MarkerError,
  outputMatches,
  parseConsole,
  parseSynopsis,
  splitCommands,
} from "./markdown.ts";
import { fillPlaceholders, PlaceholderError } from "./placeholders.ts";

const fence = "```";

describe("extractBlocks", () => {
  it("finds blocks with their opening line, language and text", () => {
    const md = [
      "# Title",
      "",
      `${fence}bash`,
      "kubectl get ns",
      `${fence}`,
      "",
      "text",
      "",
      `${fence}`,
      "plain",
      `${fence}`,
    ].join("\n");
    const blocks = extractBlocks(md);
    expect(blocks.map((b) => [b.line, b.lang, b.text])).toEqual([
      [3, "bash", "kubectl get ns\n"],
      [9, "", "plain\n"],
    ]);
  });

  it("removes the indentation of a block inside a list item", () => {
    const md = [
      "1. Store it:",
      "",
      `   ${fence}bash`,
      "   kubectl -n kube-system create secret x \\",
      "     --from-literal=a=b",
      `   ${fence}`,
    ].join("\n");
    expect(extractBlocks(md)[0]?.text).toBe("kubectl -n kube-system create secret x \\\n  --from-literal=a=b\n");
  });

  it("attaches the markers right before a block to it, across blank lines", () => {
    const md = [
      "<!-- doctest: skip — needs Docker that can pull kindest/node -->",
      "",
      `${fence}bash`,
      "kind create cluster",
      `${fence}`,
      "<!-- doctest: setup",
      "kubectl create namespace team-a",
      "-->",
      "<!-- doctest: check kubectl -n team-a get secret regcred -->",
      '<!-- doctest: expect stdout contains "regcred" -->',
      '<!-- doctest: expect output contains "a \\"b\\"\\nc" -->',
      '<!-- doctest: expect stdout lacks "\\nsecret/" -->',
      "<!-- doctest: expect exit 2 -->",
      '<!-- doctest: background "imagepullsecret-patcher run" -->',
      "<!-- doctest: eventually -->",
      "<!-- doctest: retry -->",
      "<!-- doctest: reset -->",
      '<!-- doctest: omit "kubectl rollout status" — no nodes here -->',
      "<!-- doctest: deployment imagepullsecret-patcher/imagepullsecret-patcher -->",
      `${fence}sh`,
      "true",
      `${fence}`,
    ].join("\n");
    const [a, b] = extractBlocks(md) as [CodeBlock, CodeBlock];
    expect(a.markers.skip).toBe("needs Docker that can pull kindest/node");
    expect(classify(a)).toEqual({ kind: "skip", reason: "needs Docker that can pull kindest/node" });
    expect(b.markers).toEqual({
      setup: ["kubectl create namespace team-a\n"],
      check: ["kubectl -n team-a get secret regcred\n"],
      expect: [
        { stream: "stdout", contains: "regcred" },
        { stream: "output", contains: 'a "b"\nc' },
        { stream: "stdout", contains: "\nsecret/", negate: true },
      ],
      exitCode: 2,
      background: ["imagepullsecret-patcher run"],
      eventually: true,
      retry: true,
      reset: true,
      omit: [{ prefix: "kubectl rollout status", reason: "no nodes here" }],
      deployment: { namespace: "imagepullsecret-patcher", name: "imagepullsecret-patcher" },
    });
    expect(classify(b)).toEqual({ kind: "run" });
  });

  it("ignores other HTML comments", () => {
    const md = ["<!-- just a note -->", `${fence}bash`, "ls", `${fence}`].join("\n");
    expect(extractBlocks(md)[0]?.markers).toEqual({ setup: [], check: [], expect: [], background: [], omit: [] });
  });

  it("refuses a skip without a reason, an unknown marker, and a marker that is not before a block", () => {
    expect(() => extractBlocks(`<!-- doctest: skip -->\n${fence}bash\nls\n${fence}\n`, "x.md")).toThrow(
      /x.md:1: "doctest: skip" needs a reason/,
    );
    expect(() => extractBlocks(`<!-- doctest: frobnicate -->\n${fence}bash\nls\n${fence}\n`, "x.md")).toThrow(
      MarkerError,
    );
    expect(() => extractBlocks(`<!-- doctest: output -->\nsome text\n${fence}\nls\n${fence}\n`, "x.md")).toThrow(
      /x.md:2: doctest marker is not followed/,
    );
    expect(() => extractBlocks(`${fence}bash\nls\n`, "x.md")).toThrow(/never closed/);
    expect(() => extractBlocks(`<!-- doctest: omit "kubectl" -->\n${fence}bash\nls\n${fence}\n`, "x.md")).toThrow(
      /omit "PREFIX" — reason/,
    );
  });

  it("does not end a block at a fence of another length or with an info string", () => {
    const md = ["````markdown", `${fence}bash`, "ls", `${fence}`, "````"].join("\n");
    const blocks = extractBlocks(md);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]?.text).toBe(`${fence}bash\nls\n${fence}\n`);
  });
});

describe("classify", () => {
  const block = (lang: string, markers = {}) => ({
    line: 1,
    lang,
    text: "",
    markers: { setup: [], check: [], expect: [], background: [], omit: [], ...markers },
  });
  it("runs shell languages, ignores others, and wants a marker on untagged blocks", () => {
    for (const lang of ["bash", "sh", "shell", "console"]) expect(classify(block(lang)).kind).toBe("run");
    for (const lang of ["yaml", "ts", "json", "text"]) expect(classify(block(lang)).kind).toBe("ignore");
    expect(classify(block("")).kind).toBe("unmarked");
    expect(classify(block("", { output: true })).kind).toBe("output");
    expect(classify(block("yaml", { file: "config.yaml" }))).toEqual({ kind: "file", name: "config.yaml" });
  });
});

describe("splitCommands", () => {
  it("joins continuations and open quotes, drops comments and blank lines", () => {
    const text = [
      "# 1. the credential",
      "kubectl create secret x \\",
      "  --from-literal=a=b",
      "",
      'helm install p chart --set-json \'config={"a":[',
      "   1, 2]}'",
      "kubectl apply -f x.yaml      # or: kubectl apply -k y",
    ].join("\n");
    expect(splitCommands(text)).toEqual([
      { offset: 1, text: "kubectl create secret x \\\n  --from-literal=a=b" },
      { offset: 4, text: "helm install p chart --set-json 'config={\"a\":[\n   1, 2]}'" },
      { offset: 6, text: "kubectl apply -f x.yaml      # or: kubectl apply -k y" },
    ]);
  });

  it("does not take an apostrophe in a comment for a quote", () => {
    expect(splitCommands("ls # it's fine\npwd\n").map((c) => c.text)).toEqual(["ls # it's fine", "pwd"]);
  });
});

describe("console blocks and output", () => {
  it("splits $ commands from the output promised after each", () => {
    expect(parseConsole("$ a --b\nout 1\nout 2\n$ c\n")).toEqual([
      { command: "a --b", expected: "out 1\nout 2\n" },
      { command: "c", expected: "" },
    ]);
  });

  it("matches output with … as any text within a line", () => {
    expect(
      outputMatches(
        "config.yaml: valid, 1 mapping(s)\n  a: …, Secret x\n",
        "config.yaml: valid, 1 mapping(s)\n  a: token-endpoint https://h -> y, Secret x  \n",
      ),
    ).toBe(true);
    expect(outputMatches("valid, 1 mapping(s)", "valid, 2 mapping(s)")).toBe(false);
    expect(outputMatches("a … b", "a x\ny b")).toBe(false);
  });
});

describe("parseSynopsis", () => {
  it("takes the subcommand and the options of each line", () => {
    expect(
      parseSynopsis("tool run [--once] [--config FILE]\ntool plan --config FILE [-o table|json]\ntool version\n"),
    ).toEqual([
      { program: "tool", command: "run", options: ["--once", "--config"] },
      { program: "tool", command: "plan", options: ["--config", "-o"] },
      { program: "tool", command: "version", options: [] },
    ]);
  });
});

describe("fillPlaceholders", () => {
  it("fills the registry password with the test credential and refuses unknown placeholders", () => {
    expect(
      fillPlaceholders("kubectl create secret docker-registry r --docker-username=robot --docker-password=…"),
    ).toBe('kubectl create secret docker-registry r --docker-username=robot --docker-password="$DOCTEST_PASSWORD"');
    expect(() => fillPlaceholders("kubectl apply -f …")).toThrow(PlaceholderError);
  });
});
