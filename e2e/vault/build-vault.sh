#!/usr/bin/env bash
# Builds a HashiCorp Vault server binary from the Go module proxy and caches it by version outside
# the repository, for the e2e tests of the vault source. Prints the directory that holds `vault`.
#
# Vault's go.mod points its own submodules (api, api/auth/*, sdk) at ./subdirectories, and a module
# zip never contains nested modules, so `go install github.com/hashicorp/vault@version` cannot work.
# Instead a wrapper module requires Vault and copies its non-local replace directives; the
# submodules then resolve to the published versions that Vault's require block names.
# That only works for a Vault release whose in-tree submodules equal the published versions it
# requires: v1.21.3 and v1.21.4 require sdk v0.21.0 but carry an older in-tree ActivationFunc and a
# newer keysutil.RestorePolicy, so no published sdk compiles with them. v1.21.2 (sdk v0.20.0) does.
# (OpenBao would be the alternative, but the module proxy does not serve it.)
#
# Settings (environment):
#   VAULT_VERSION  github.com/hashicorp/vault version (default below)
#   VAULT_ASSETS   a directory with a prebuilt `vault` binary; skips the build
#   VAULT_CACHE    cache root (default: ${XDG_CACHE_HOME:-~/.cache}/imagepullsecret-patcher/vault)
set -euo pipefail

VAULT_VERSION="${VAULT_VERSION:-v1.21.1}"
CACHE_ROOT="${VAULT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/imagepullsecret-patcher/vault}"
MODULE=github.com/hashicorp/vault

log() { printf '[vault] %s\n' "$*" >&2; }
die() { printf '[vault] error: %s\n' "$*" >&2; exit 1; }

if [[ -n "${VAULT_ASSETS:-}" ]]; then
  [[ -x "$VAULT_ASSETS/vault" ]] || die "VAULT_ASSETS=$VAULT_ASSETS must contain an executable 'vault'"
  log "using the prebuilt binary from VAULT_ASSETS=$VAULT_ASSETS"
  echo "$VAULT_ASSETS"
  exit 0
fi

OUT="$CACHE_ROOT/vault-$VAULT_VERSION"
if [[ -x "$OUT/vault" ]]; then
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "Go is not installed. Install Go >= 1.25 (apt-get install golang or https://go.dev/dl), or set VAULT_ASSETS to a directory with a prebuilt 'vault' binary."

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS="${GOFLAGS:--modcacherw}" CGO_ENABLED=0
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vault-build.XXXXXX")"
trap 'rm -rf "$WORK" "$OUT.partial"' EXIT
mkdir -p "$CACHE_ROOT"
rm -rf "$OUT.partial" && mkdir -p "$OUT.partial"
start=$(date +%s)
log "building Vault $VAULT_VERSION with $(go version | cut -d' ' -f3) into $OUT"
log "a cold build takes about 35-45 minutes, ~4 GB of module downloads and up to ~5 GB of RAM on 2 cores; later runs reuse the cache"

fetch_failed() { die "could not download $1 from the Go module proxy (GOPROXY=$(go env GOPROXY)). Check network access to the proxy, or set VAULT_ASSETS to a directory with a prebuilt 'vault' binary."; }

cd "$WORK"
info="$(go mod download -json "$MODULE@$VAULT_VERSION" 2>"$WORK/download.log")" || { tail -5 "$WORK/download.log" >&2; fetch_failed "$MODULE@$VAULT_VERSION"; }
modfile="$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
[[ -f "$modfile" ]] || fetch_failed "$MODULE@$VAULT_VERSION"

# Local replaces (=> ./api ...) become replaces by the published version Vault's require block
# names, pinned: left to MVS, a test-only import elsewhere in Vault pulls a newer, incompatible sdk.
# Every other replace and exclude applies only in a main module, so the wrapper repeats them.
local_modules=$(sed -n 's#^replace \([^ ]*\)\( v[^ ]*\)\{0,1\} => \.\{1,2\}/.*#\1#p' "$modfile" | sort -u)
{
  echo "module vault-build"
  echo
  grep -E '^go [0-9]' "$modfile"
  grep -E '^godebug ' "$modfile" || true
  echo
  echo "require $MODULE $VAULT_VERSION"
  echo
  grep -E '^(replace|exclude) ' "$modfile" | grep -vE '=> \.\.?/' || true
  for m in $local_modules; do
    v=$(awk -v m="$m" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$modfile")
    [[ -n "$v" ]] || die "Vault $VAULT_VERSION replaces $m locally but requires no version of it"
    echo "replace $m => $m $v"
  done
} > go.mod
local_replaces=$(echo "$local_modules" | grep -c . || true)
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/hashicorp/vault"
GO
log "resolving dependencies ($local_replaces in-tree submodules replaced by their published versions)"
# -e: tests of Vault's own packages import sdk test helpers newer than the pinned sdk; the binary does not.
go mod tidy -e >"$WORK/tidy.log" 2>&1 || { tail -20 "$WORK/tidy.log" >&2; die "go mod tidy failed for the Vault wrapper module (see above)"; }
for sub in api sdk; do
  log "  $MODULE/$sub $(go list -m -f '{{.Version}}' "$MODULE/$sub" 2>/dev/null || echo '?')"
done

commit="$(printf '%s\n' "$info" | sed -n 's/.*"Hash": "\(.*\)".*/\1/p' | head -1)"
ldflags="-s -w -X $MODULE/version.GitCommit=${commit:-unknown} -X $MODULE/version.BuildDate=1970-01-01T00:00:00Z"
log "compiling vault"
go build -trimpath -ldflags "$ldflags" -o "$OUT.partial/vault" "$MODULE" >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log" >&2; die "go build of Vault $VAULT_VERSION failed (see above). Try another VAULT_VERSION, or set VAULT_ASSETS to a prebuilt binary."; }
"$OUT.partial/vault" version >&2 || die "the built binary does not run"

rm -rf "$OUT" && mv "$OUT.partial" "$OUT"
log "built in $(( $(date +%s) - start ))s: vault=$(( $(stat -c %s "$OUT/vault") / 1048576 ))MB"
echo "$OUT"
