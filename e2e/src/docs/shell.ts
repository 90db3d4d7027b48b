// The bash side of running a doc: the prelude every block runs under (state carried between
// blocks, retries for `eventually`, background commands) and process-group signalling.
/** How long a `check` or an `eventually` command may keep failing before the doc is wrong. */
export const EVENTUALLY_MS = 30_000;
export const BLOCK_TIMEOUT_MS = 150_000;

/** A command a reader leaves running (in another terminal) while they go on. */
export function runsForever(command: string, prefixes: readonly string[]): boolean {
  const c = command.trim();
  if (prefixes.some((p) => c.startsWith(p))) return true;
  return /^imagepullsecret-patcher\s+run\b/.test(c) && !/\s--once\b/.test(c);
}

export const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export const PRELUDE = `set -eo pipefail
if [ -f "$DOCTEST_DIR/state.sh" ]; then . "$DOCTEST_DIR/state.sh"; fi
__doctest_save() { { export -p; printf 'cd %q\\n' "$PWD"; } > "$DOCTEST_DIR/state.sh.new" && mv "$DOCTEST_DIR/state.sh.new" "$DOCTEST_DIR/state.sh"; }
trap __doctest_save EXIT
trap 'printf "%s\\n" "$BASH_COMMAND" > "$DOCTEST_DIR/failed-command"' ERR
__doctest_retry() {
  local deadline=$((SECONDS + ${EVENTUALLY_MS / 1000})) out="$DOCTEST_DIR/retry.out" err="$DOCTEST_DIR/retry.err" code
  while :; do
    code=0
    eval "$1" > "$out" 2> "$err" || code=$?
    if (( code == 0 )) && grep -q '[^[:space:]]' "$out" "$err"; then break; fi
    if (( SECONDS >= deadline )); then cat "$out"; cat "$err" >&2; return $(( code == 0 ? 1 : code )); fi
    sleep 0.5
  done
  cat "$out"; cat "$err" >&2
}
__doctest_bg() {
  local log; log="$DOCTEST_DIR/background-$(date +%s%N).log"
  printf '$ %s\\n' "$1" > "$log"
  setsid bash -c "$1" >> "$log" 2>&1 < /dev/null &
  printf '%s %s\\n' "$!" "$log" >> "$DOCTEST_DIR/background.list"
}
`;

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

export function alive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
