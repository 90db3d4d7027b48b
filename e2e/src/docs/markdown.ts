// Finds the fenced code blocks of a Markdown file and the `<!-- doctest: … -->` markers that say how
// the docs test treats each one. Pure: no I/O, so the unit tests can feed it strings.
//
// Markers are HTML comments directly before a block (blank lines and other markers may sit between
// them and the block; any other text ends the run). Every marker attaches to the next block.
//
//   <!-- doctest: skip — REASON -->         not run here; REASON is required and says why
//   <!-- doctest: output -->                the block shows output or a synopsis, not commands
//   <!-- doctest: file NAME -->             the block's text is written to NAME in the working
//                                           directory before the next block runs
//   <!-- doctest: setup                     shell run before the block: what the doc assumes exists
//   kubectl create namespace team-a
//   -->
//   <!-- doctest: check                     shell run after the block, retried for up to 30 s until
//   kubectl get sa default | grep regcred   it exits 0: the outcome the doc promises
//   -->
//   <!-- doctest: expect exit 2 -->         the block's exit code (default 0)
//   <!-- doctest: expect stdout contains "regcred" -->   also `stderr`, `output` (both), and
//                                           `lacks` for text that must not appear; \n, \" and \\ escapes
//   <!-- doctest: background "PREFIX" -->   commands starting with PREFIX keep running in the
//                                           background until the doc is done
//   <!-- doctest: eventually -->            each command is retried for up to 30 s until it exits 0
//                                           and prints something: it waits for a process started
//                                           earlier to do its work
//   <!-- doctest: retry -->                 the whole block is run again, for up to 30 s, until its
//                                           exit code and expectations hold (for blocks that only look)
//   <!-- doctest: omit "PREFIX" — REASON --> commands starting with PREFIX are not run here
//   <!-- doctest: reset -->                 before the block, stop what earlier blocks left running and
//                                           undo their changes to the cluster: the doc starts an
//                                           alternative (another way to install)
//   <!-- doctest: synopsis -->              a CLI synopsis (`imagepullsecret-patcher CMD [--flag …]` per
//                                           line): each command's --help must exist and name its flags
//   <!-- doctest: deployment NS/NAME -->    after the block, the Deployment's container runs as a
//                                           local process (this cluster has no nodes)

/** Languages whose blocks are commands to run; a block in one of them must run or carry a marker. */
export const RUNNABLE_LANGS: ReadonlySet<string> = new Set(["bash", "sh", "shell", "zsh", "console"]);

export interface Expectation {
  stream: "stdout" | "stderr" | "output";
  contains: string;
  /** `lacks`: the text must not appear. */
  negate?: boolean;
}

export interface Markers {
  skip?: string;
  output?: boolean;
  file?: string;
  setup: string[];
  check: string[];
  exitCode?: number;
  expect: Expectation[];
  background: string[];
  eventually?: boolean;
  retry?: boolean;
  reset?: boolean;
  omit: { prefix: string; reason: string }[];
  synopsis?: boolean;
  deployment?: { namespace: string; name: string };
}

export interface CodeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** First word of the info string, lowercased; "" for an untagged block. */
  lang: string;
  /** The block's text with the fence's indentation removed, ending in a newline (or ""). */
  text: string;
  markers: Markers;
}

export type BlockKind =
  | { kind: "run" }
  | { kind: "skip"; reason: string }
  | { kind: "output" }
  | { kind: "file"; name: string }
  | { kind: "ignore" }
  | { kind: "unmarked" };

export class MarkerError extends Error {}

function emptyMarkers(): Markers {
  return { setup: [], check: [], expect: [], background: [], omit: [] };
}

function unquote(s: string, where: string): string {
  const m = /^"((?:[^"\\]|\\.)*)"$/.exec(s.trim());
  if (!m) throw new MarkerError(`${where}: expected a "quoted string", got ${s.trim() || "nothing"}`);
  return (m[1] ?? "").replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

interface MarkerInput {
  /** The marker's name, e.g. `expect`. */
  word: string;
  /** The rest of the marker's first line. */
  args: string;
  /** Further lines of a multi-line marker. */
  rest: string;
  where: string;
}

function parseExpect({ args, where }: MarkerInput, markers: Markers): void {
  const exit = /^exit\s+(\d+)$/.exec(args);
  if (exit) {
    markers.exitCode = Number(exit[1]);
    return;
  }
  const m = /^(stdout|stderr|output)\s+(contains|lacks)\s+(.*)$/s.exec(args);
  if (!m) {
    throw new MarkerError(
      `${where}: expected "expect exit N" or "expect stdout|stderr|output contains|lacks \\"TEXT\\""`,
    );
  }
  const e: Expectation = { stream: m[1] as Expectation["stream"], contains: unquote(m[3] ?? "", where) };
  if (m[2] === "lacks") e.negate = true;
  markers.expect.push(e);
}

function parseScript({ word, args, rest, where }: MarkerInput, markers: Markers): void {
  const script = [args, rest]
    .filter((s) => s.trim())
    .join("\n")
    .trim();
  if (!script) throw new MarkerError(`${where}: "doctest: ${word}" has no commands`);
  markers[word as "setup" | "check"].push(`${script}\n`);
}

function parseSkip({ args, where }: MarkerInput, markers: Markers): void {
  const reason = args.replace(/^[—–:-]+\s*/, "").trim();
  if (!reason) {
    throw new MarkerError(`${where}: "doctest: skip" needs a reason, e.g. <!-- doctest: skip — needs a registry -->`);
  }
  markers.skip = reason;
}

function parseFile({ args, where }: MarkerInput, markers: Markers): void {
  const names = args.split(/\s+/).filter(Boolean);
  if (names.length !== 1) throw new MarkerError(`${where}: "doctest: file" takes one file name`);
  markers.file = names[0] ?? "";
}

function parseOmit({ args, where }: MarkerInput, markers: Markers): void {
  const m = /^("(?:[^"\\]|\\.)*")\s*[—–:-]+\s*(\S.*)$/.exec(args);
  if (!m) throw new MarkerError(`${where}: expected <!-- doctest: omit "PREFIX" — reason -->`);
  markers.omit.push({ prefix: unquote(m[1] ?? "", where), reason: (m[2] ?? "").trim() });
}

function parseDeployment({ args, where }: MarkerInput, markers: Markers): void {
  const m = /^([a-z0-9.-]+)\/([a-z0-9.-]+)$/.exec(args);
  if (!m) throw new MarkerError(`${where}: "doctest: deployment" takes NAMESPACE/NAME`);
  markers.deployment = { namespace: m[1] ?? "", name: m[2] ?? "" };
}

type Flag = "output" | "eventually" | "synopsis" | "retry" | "reset";
const flag =
  (name: Flag) =>
  (_: MarkerInput, markers: Markers): void => {
    markers[name] = true;
  };

const MARKER_PARSERS: Record<string, (input: MarkerInput, markers: Markers) => void> = {
  skip: parseSkip,
  output: flag("output"),
  file: parseFile,
  setup: parseScript,
  check: parseScript,
  expect: parseExpect,
  background: ({ args, where }, markers) => void markers.background.push(unquote(args, where)),
  eventually: flag("eventually"),
  synopsis: flag("synopsis"),
  retry: flag("retry"),
  reset: flag("reset"),
  omit: parseOmit,
  deployment: parseDeployment,
};

/** Applies one marker's body (the text after `doctest:`) to `markers`. */
export function parseMarker(body: string, markers: Markers, where: string): void {
  const trimmed = body.trim();
  const nl = trimmed.indexOf("\n");
  const head = (nl < 0 ? trimmed : trimmed.slice(0, nl)).trim();
  const rest = nl < 0 ? "" : trimmed.slice(nl + 1);
  const word = head.split(/\s+/)[0] ?? "";
  const parse = Object.hasOwn(MARKER_PARSERS, word) ? MARKER_PARSERS[word] : undefined;
  if (!parse) throw new MarkerError(`${where}: unknown marker "doctest: ${word}"`);
  parse({ word, args: head.slice(word.length).trim(), rest, where }, markers);
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;

/** A comment starting at line `i`, possibly over several lines: its text and its last line. */
function readComment(lines: readonly string[], i: number): { inner: string; end: number } {
  let j = i;
  let text = (lines[i] ?? "").trim();
  while (!text.includes("-->") && j + 1 < lines.length) text += `\n${lines[++j] ?? ""}`;
  return { inner: text.slice(4, text.indexOf("-->")), end: j };
}

/** The body of the fenced block opening at line `i`, with the fence's indentation removed. */
function readFence(lines: readonly string[], i: number, fence: RegExpExecArray, file: string) {
  const line = lines[i] ?? "";
  const indent = line.length - line.trimStart().length;
  const marker = fence[2] ?? "```";
  const body: string[] = [];
  let j = i + 1;
  for (; j < lines.length; j++) {
    const l = lines[j] ?? "";
    const t = l.trim();
    if (t.startsWith(marker) && /^[`~]+$/.test(t) && t[0] === marker[0]) break;
    body.push(l.slice(Math.min(indent, l.length - l.trimStart().length)));
  }
  if (j >= lines.length) throw new MarkerError(`${file}:${i + 1}: code block is never closed`);
  return { text: body.length ? `${body.join("\n")}\n` : "", end: j };
}

/** Every fenced code block of `source`, with its markers. `file` only names errors. */
export function extractBlocks(source: string, file = "<markdown>"): CodeBlock[] {
  const lines = source.split("\n");
  const blocks: CodeBlock[] = [];
  let pending: Markers | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const trimmed = line.trim();
    if (trimmed === "") continue;
    if (trimmed.startsWith("<!--")) {
      const { inner, end } = readComment(lines, i);
      const m = /^\s*doctest:([\s\S]*)$/.exec(inner);
      if (m) parseMarker(m[1] ?? "", (pending ??= emptyMarkers()), `${file}:${i + 1}`);
      i = end;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const { text, end } = readFence(lines, i, fence, file);
      blocks.push({ line: i + 1, lang: (fence[3] ?? "").toLowerCase(), text, markers: pending ?? emptyMarkers() });
      pending = undefined;
      i = end;
      continue;
    }
    // Ordinary text: markers must sit right before their block.
    if (pending) throw new MarkerError(`${file}:${i + 1}: doctest marker is not followed by a code block`);
  }
  if (pending) throw new MarkerError(`${file}: doctest marker at the end of the file is not followed by a code block`);
  return blocks;
}

/** What the docs test does with a block. */
export function classify(block: CodeBlock): BlockKind {
  const m = block.markers;
  if (m.skip !== undefined) return { kind: "skip", reason: m.skip };
  if (m.output) return { kind: "output" };
  if (m.file !== undefined) return { kind: "file", name: m.file };
  if (m.synopsis) return { kind: "run" };
  if (RUNNABLE_LANGS.has(block.lang)) return { kind: "run" };
  // An untagged block may be commands or output: the doc must say which.
  if (block.lang === "") return { kind: "unmarked" };
  return { kind: "ignore" };
}

/** One command as the reader would type it: backslash continuations joined, comments kept apart. */
export interface Command {
  /** 0-based offset of its first line in the block. */
  offset: number;
  text: string;
}

/**
 * Splits a shell block into commands: a line ending in `\` continues, and so does a line inside an
 * open single- or double-quoted string (multi-line `--set-json '…'`). Comment-only and blank lines
 * are dropped.
 */
export function splitCommands(text: string): Command[] {
  const lines = text.replace(/\n$/, "").split("\n");
  const out: Command[] = [];
  let current: string[] = [];
  let start = 0;
  let quote: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (current.length === 0) {
      if (line.trim() === "" || line.trim().startsWith("#")) continue;
      start = i;
    }
    current.push(line);
    quote = scanQuotes(line, quote);
    if (quote === undefined && !line.endsWith("\\")) {
      out.push({ offset: start, text: current.join("\n") });
      current = [];
    }
  }
  if (current.length) out.push({ offset: start, text: current.join("\n") });
  return out;
}

/** The quote still open at the end of `line`, given the one open at its start. */
function scanQuotes(line: string, open: string | undefined): string | undefined {
  let q = open;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? "";
    if (q === undefined) {
      if (c === "#" && (i === 0 || /\s/.test(line[i - 1] ?? ""))) break;
      if (c === "\\") i++;
      else if (c === "'" || c === '"') q = c;
    } else if (q === "'") {
      if (c === "'") q = undefined;
    } else {
      if (c === "\\") i++;
      else if (c === '"') q = undefined;
    }
  }
  return q;
}

/** One line of a CLI synopsis: the subcommand and the options it names. */
export interface SynopsisLine {
  program: string;
  command: string;
  options: string[];
}

export function parseSynopsis(text: string): SynopsisLine[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      const [program = "", command = "", ...rest] = l.trim().split(/\s+/);
      const options = rest
        .map((t) => /^[[(]*(-{1,2}[A-Za-z][\w-]*)/.exec(t)?.[1])
        .filter((o): o is string => o !== undefined);
      return { program, command, options };
    });
}

/** A `console` block: `$ command` lines and the output the doc promises after each. */
export interface ConsoleStep {
  command: string;
  expected: string;
}

export function parseConsole(text: string): ConsoleStep[] {
  const steps: ConsoleStep[] = [];
  for (const line of text.replace(/\n$/, "").split("\n")) {
    if (line.startsWith("$ ")) steps.push({ command: line.slice(2), expected: "" });
    else if (steps.length) (steps[steps.length - 1] as ConsoleStep).expected += `${line}\n`;
    else if (line.trim()) throw new MarkerError(`console block: output before the first "$ " command: ${line}`);
  }
  return steps;
}

/**
 * Whether `actual` output matches the `expected` text of a doc: line ends trimmed, and `…` in the
 * doc stands for any text within a line.
 */
export function outputMatches(expected: string, actual: string): boolean {
  const norm = (s: string): string =>
    s
      .split("\n")
      .map((l) => l.trimEnd())
      .join("\n")
      .trim();
  const pattern = norm(expected)
    .split("…")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^\\n]*");
  return new RegExp(`^${pattern}$`).test(norm(actual));
}
