#!/usr/bin/env bash
# Builds the `helm` CLI from the Go module proxy and caches it by version outside the repository,
# for the e2e tests that render deploy/helm/imagepullsecret-patcher. Prints the directory that
# holds `helm` on stdout.
#
# helm.sh/helm/v3 has no replace directives, so `go install helm.sh/helm/v3/cmd/helm@version`
# works as is; the version is stamped in with the same -X flags the upstream Makefile uses.
#
# Settings (environment):
#   HELM_VERSION  helm.sh/helm/v3 version (default below)
#   HELM_ASSETS   a directory with a prebuilt `helm` binary; skips the build
#   HELM_CACHE    cache root (default: ${XDG_CACHE_HOME:-~/.cache}/imagepullsecret-patcher/helm)
# (HELM_BIN, a path to the binary itself, is honoured by e2e/src/deploy/helm.ts before this runs.)
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/imagepullsecret-patcher/helm}"
MODULE=helm.sh/helm/v3

log() { printf '[helm] %s\n' "$*" >&2; }
die() { printf '[helm] error: %s\n' "$*" >&2; exit 1; }

if [[ -n "${HELM_ASSETS:-}" ]]; then
  [[ -x "$HELM_ASSETS/helm" ]] || die "HELM_ASSETS=$HELM_ASSETS must contain an executable 'helm'"
  log "using the prebuilt binary from HELM_ASSETS=$HELM_ASSETS"
  echo "$HELM_ASSETS"
  exit 0
fi

OUT="$CACHE_ROOT/$HELM_VERSION"
if [[ -x "$OUT/helm" ]]; then
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "Go is not installed. Install Go >= 1.26 (apt-get install golang or https://go.dev/dl), or set HELM_BIN to a helm binary / HELM_ASSETS to a directory with one."

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS="${GOFLAGS:--modcacherw}" CGO_ENABLED=0
WORK="$(mktemp -d "${TMPDIR:-/tmp}/helm-build.XXXXXX")"
trap 'rm -rf "$WORK" "$OUT.partial"' EXIT
mkdir -p "$CACHE_ROOT"
rm -rf "$OUT.partial" && mkdir -p "$OUT.partial"
start=$(date +%s)
log "building helm $HELM_VERSION with $(go version | cut -d' ' -f3) into $OUT"
log "a cold build takes a few minutes on 2 cores; later runs reuse the cache"

fetch_failed() { die "could not download $1 from the Go module proxy (GOPROXY=$(go env GOPROXY)). Check network access to the proxy, or set HELM_BIN to a prebuilt helm binary."; }

cd "$WORK"
info="$(go mod download -json "$MODULE@$HELM_VERSION" 2>"$WORK/download.log")" || { tail -5 "$WORK/download.log" >&2; fetch_failed "$MODULE@$HELM_VERSION"; }
commit="$(printf '%s\n' "$info" | sed -n 's/.*"Hash": "\(.*\)".*/\1/p' | head -1)"
modfile="$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
[[ -f "$modfile" ]] || fetch_failed "$MODULE@$HELM_VERSION"
if grep -qE '^replace|^[[:space:]]+[^ ]+ => ' "$modfile"; then
  die "$MODULE@$HELM_VERSION has replace directives; 'go install' cannot build it. Pick another HELM_VERSION or set HELM_BIN."
fi
# The Kubernetes version helm reports as its default (lint, .Capabilities) comes from its k8s.io/client-go.
k8s_minor="$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$modfile" | head -1)"

ldflags="-s -w -X $MODULE/internal/version.version=$HELM_VERSION -X $MODULE/internal/version.gitTreeState=clean"
# The module proxy reports the commit only for some versions; without it, `helm version` shows none.
[[ -n "$commit" ]] && ldflags+=" -X $MODULE/internal/version.gitCommit=$commit"
if [[ -n "$k8s_minor" ]]; then
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X $MODULE/$pkg.k8sVersionMajor=1 -X $MODULE/$pkg.k8sVersionMinor=$k8s_minor"
  done
fi
log "compiling helm"
GOBIN="$OUT.partial" go install -trimpath -ldflags "$ldflags" "$MODULE/cmd/helm@$HELM_VERSION" >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log" >&2; die "go install of helm $HELM_VERSION failed (see above). Try another HELM_VERSION, or set HELM_BIN to a prebuilt binary."; }
"$OUT.partial/helm" version --short >&2 || die "the built binary does not run"

rm -rf "$OUT" && mv "$OUT.partial" "$OUT"
log "built in $(( $(date +%s) - start ))s: helm=$(( $(stat -c %s "$OUT/helm") / 1048576 ))MB"
echo "$OUT"
