#!/usr/bin/env bash
# Builds `kubectl` from the Go module proxy, at the Kubernetes version of the local control plane,
# and caches it by version outside the repository. The docs test runs the docs' kubectl commands
# with it. Prints the directory that holds `kubectl` on stdout.
#
# k8s.io/kubernetes replaces its staging modules with ./staging paths, so `go install …@v` is
# refused; like e2e/control-plane/build-binaries.sh, this writes a throw-away wrapper module that
# requires k8s.io/kubernetes and replaces each staging module with its published v0.<minor>.<patch>.
# It shares the Go module and build caches with that build, so after it, only kubectl's own
# packages are compiled (a minute or two on 2 cores).
#
# Settings (environment):
#   K8S_VERSION     k8s.io/kubernetes version (default: the control plane's)
#   KUBECTL_ASSETS  a directory with a prebuilt `kubectl` binary; skips the build
#   KUBECTL_CACHE   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/imagepullsecret-patcher/kubectl)
# (KUBECTL_BIN, a path to the binary itself, is honoured by e2e/src/docs/tools.ts before this runs.)
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
CACHE_ROOT="${KUBECTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/imagepullsecret-patcher/kubectl}"

log() { printf '[kubectl] %s\n' "$*" >&2; }
die() { printf '[kubectl] error: %s\n' "$*" >&2; exit 1; }

if [[ -n "${KUBECTL_ASSETS:-}" ]]; then
  [[ -x "$KUBECTL_ASSETS/kubectl" ]] || die "KUBECTL_ASSETS=$KUBECTL_ASSETS must contain an executable 'kubectl'"
  log "using the prebuilt binary from KUBECTL_ASSETS=$KUBECTL_ASSETS"
  echo "$KUBECTL_ASSETS"
  exit 0
fi

OUT="$CACHE_ROOT/$K8S_VERSION"
if [[ -x "$OUT/kubectl" ]]; then
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "Go is not installed. Install Go >= 1.26 (apt-get install golang or https://go.dev/dl), or set KUBECTL_BIN to a kubectl binary / KUBECTL_ASSETS to a directory with one."

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS="${GOFLAGS:--modcacherw}" CGO_ENABLED=0
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kubectl-build.XXXXXX")"
trap 'rm -rf "$WORK" "$OUT.partial"' EXIT
mkdir -p "$CACHE_ROOT"
rm -rf "$OUT.partial" && mkdir -p "$OUT.partial"
start=$(date +%s)
log "building kubectl $K8S_VERSION with $(go version | cut -d' ' -f3) into $OUT"

fetch_failed() { die "could not download $1 from the Go module proxy (GOPROXY=$(go env GOPROXY)). Check network access to the proxy, or set KUBECTL_BIN to a prebuilt kubectl."; }

cd "$WORK"
go mod init doctest-kubectl >/dev/null 2>&1
info="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" 2>"$WORK/download.log")" || { tail -5 "$WORK/download.log" >&2; fetch_failed "k8s.io/kubernetes@$K8S_VERSION"; }
modfile="$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
[[ -f "$modfile" ]] || fetch_failed "k8s.io/kubernetes@$K8S_VERSION"
minor_patch="${K8S_VERSION#v1.}"
staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$modfile" | sort -u)
[[ -n "$staging" ]] || die "found no staging replace lines in $modfile"
{
  echo "module doctest-kubectl"
  echo
  grep -E '^go [0-9]' "$modfile"
  grep -E '^godebug ' "$modfile" || true
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  for m in $staging; do echo "	$m => $m v0.$minor_patch"; done
  echo ")"
} > go.mod
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kubectl"
GO
log "resolving $(echo "$staging" | wc -l) staging modules"
go mod tidy >"$WORK/tidy.log" 2>&1 || { tail -20 "$WORK/tidy.log" >&2; die "go mod tidy failed for the kubectl wrapper module (see above)"; }
major="${K8S_VERSION#v}"; major="${major%%.*}"; minor="${minor_patch%%.*}"
vflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  vflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
log "compiling kubectl"
go build -trimpath -ldflags "-s -w$vflags" -o "$OUT.partial/kubectl" k8s.io/kubernetes/cmd/kubectl \
  || die "go build of kubectl $K8S_VERSION failed"
"$OUT.partial/kubectl" version --client >/dev/null || die "the built kubectl does not run"
rm -rf "$OUT" && mv "$OUT.partial" "$OUT"
log "built in $(( $(date +%s) - start ))s: $(ls -l "$OUT/kubectl" | awk '{printf "%dMB", $5/1048576}')"
echo "$OUT"
