#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from the Go module proxy and caches them
# by version outside the repository. Prints the directory that holds the binaries on stdout.
#
# Settings (environment):
#   K8S_VERSION   k8s.io/kubernetes version (default below)
#   ETCD_VERSION  go.etcd.io/etcd/server/v3 version (default below)
#   CONTROL_PLANE_ASSETS / KUBEBUILDER_ASSETS  a directory with prebuilt binaries; skips the build
#   CONTROL_PLANE_CACHE  cache root (default: ${XDG_CACHE_HOME:-~/.cache}/imagepullsecret-patcher/control-plane)
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE_ROOT="${CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/imagepullsecret-patcher/control-plane}"
BINARIES=(kube-apiserver kube-controller-manager etcd)

log() { printf '[control-plane] %s\n' "$*" >&2; }
die() { printf '[control-plane] error: %s\n' "$*" >&2; exit 1; }

has_all() {
  local dir="$1" b
  for b in "${BINARIES[@]}"; do [[ -x "$dir/$b" ]] || return 1; done
}

for var in CONTROL_PLANE_ASSETS KUBEBUILDER_ASSETS; do
  dir="${!var:-}"
  if [[ -n "$dir" ]]; then
    has_all "$dir" || die "$var=$dir must contain executable ${BINARIES[*]}"
    log "using prebuilt binaries from $var=$dir"
    echo "$dir"
    exit 0
  fi
done

OUT="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
if has_all "$OUT"; then
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "Go is not installed. Install Go >= 1.26 (apt-get install golang or https://go.dev/dl), or set CONTROL_PLANE_ASSETS to a directory with prebuilt ${BINARIES[*]}."

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS="${GOFLAGS:--modcacherw}" CGO_ENABLED=0
WORK="$(mktemp -d "${TMPDIR:-/tmp}/control-plane-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT.partial"
start=$(date +%s)
log "building Kubernetes $K8S_VERSION and etcd $ETCD_VERSION with $(go version | cut -d' ' -f3) into $OUT"
log "a cold build takes about 10-20 minutes on 2 cores; later runs reuse the cache"

fetch_failed() { die "could not download $1 from the Go module proxy (GOPROXY=$(go env GOPROXY)). Check network access to the proxy, or set CONTROL_PLANE_ASSETS to prebuilt binaries."; }

# --- Kubernetes: a wrapper module that replaces every staging module with its published v0.Y.Z ---
mkdir -p "$WORK/k8s" && cd "$WORK/k8s"
go mod init control-plane-k8s >/dev/null 2>&1
modfile="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')" || fetch_failed "k8s.io/kubernetes@$K8S_VERSION"
[[ -f "$modfile" ]] || fetch_failed "k8s.io/kubernetes@$K8S_VERSION"
minor_patch="${K8S_VERSION#v1.}"
staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$modfile" | sort -u)
[[ -n "$staging" ]] || die "found no staging replace lines in $modfile"
{
  echo "module control-plane-k8s"
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

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
log "resolving $(echo "$staging" | wc -l) staging modules"
go mod tidy >"$WORK/tidy.log" 2>&1 || { tail -20 "$WORK/tidy.log" >&2; die "go mod tidy failed for the Kubernetes wrapper module (see above)"; }
commit="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Hash": "\(.*\)".*/\1/p' | head -1)"
major="${K8S_VERSION#v}"; major="${major%%.*}"; minor="${minor_patch%%.*}"
vflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  vflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
log "compiling kube-apiserver and kube-controller-manager"
go build -trimpath -tags selinux,notest -ldflags "-s -w$vflags" -o "$OUT.partial/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  || die "go build of Kubernetes $K8S_VERSION failed"

# --- etcd: its server module has replace directives, so it too goes through a wrapper ---
mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
go mod init control-plane-etcd >/dev/null 2>&1
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >"$WORK/etcd.log" 2>&1 || { tail -20 "$WORK/etcd.log" >&2; fetch_failed "go.etcd.io/etcd/server/v3@$ETCD_VERSION"; }
log "compiling etcd"
go build -trimpath -ldflags "-s -w" -o "$OUT.partial/etcd" go.etcd.io/etcd/server/v3 || die "go build of etcd $ETCD_VERSION failed"

rm -rf "$OUT" && mv "$OUT.partial" "$OUT"
log "built in $(( $(date +%s) - start ))s: $(cd "$OUT" && ls -l "${BINARIES[@]}" | awk '{printf "%s=%dMB ", $9, $5/1048576}')"
echo "$OUT"
