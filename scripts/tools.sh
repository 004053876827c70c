#!/usr/bin/env bash
# scripts/tools.sh — installs every tool the test suite needs, idempotently.
#
# Go tools are built once at pinned versions into $SLIPWAY_CACHE/bin
# (default $HOME/.cache/slipway/bin), which survives between CI runs on the
# same machine and is rebuilt from empty when missing. Debian packages come
# from apt, npm packages into $SLIPWAY_CACHE/npm.
#
# Usage: scripts/tools.sh            # everything
#        scripts/tools.sh cosign ... # only the named tools
set -euo pipefail

# The Go toolchain: go1.27.3 (the go command fetches it from the module
# proxy on first use), for the standard library's security fixes; go.mod
# keeps its `go` line. Every script that runs go sets this (README.md).
export GOTOOLCHAIN=go1.27.3
SLIPWAY_CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}
BIN=$SLIPWAY_CACHE/bin
mkdir -p "$BIN"
here=$(cd "$(dirname "$0")" && pwd)

log() { printf '[tools] %s\n' "$*" >&2; }

# go_tool NAME MODULE/cmd/path VERSION [go] — go install into $BIN, stamped
# by version; with "go", also by the Go toolchain's version (a tool that
# type-checks the standard library, like staticcheck, must be built with the
# Go it analyses: built with go1.26 it fails on go1.27's sources).
go_tool() {
  local name=$1 pkg=$2 version=$3
  local stamp=$BIN/.$name.version want=$pkg@$version
  [[ ${4:-} == go ]] && want="$want $(go env GOVERSION)"
  if [[ -x $BIN/$name && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    return 0
  fi
  log "building $name ($pkg@$version); this takes a few minutes the first time"
  local t0=$SECONDS
  GOBIN=$BIN CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install "$pkg@$version"
  echo "$want" >"$stamp"
  log "built $name in $((SECONDS - t0))s"
}

# quill cannot be `go install`ed (replace directives), so it is built from a
# tools module that pins it.
quill_tool() {
  local version=v0.7.1 stamp=$BIN/.quill.version
  if [[ -x $BIN/quill && -f $stamp && $(cat "$stamp") == "$version" ]]; then return 0; fi
  log "building quill $version via tools module"
  local t0=$SECONDS
  (cd "$here/../tools/quill" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -o "$BIN/quill" github.com/anchore/quill/cmd/quill)
  echo "$version" >"$stamp"
  log "built quill in $((SECONDS - t0))s"
}

apt_pkgs() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]} == 0)) && return 0
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

tauri_cli() {
  local version=2.12.5 dir=$SLIPWAY_CACHE/npm
  if [[ -x $dir/node_modules/.bin/tauri && $(cat "$dir/.version" 2>/dev/null) == "$version" ]]; then
    ln -sf "$dir/node_modules/.bin/tauri" "$BIN/tauri"; return 0
  fi
  log "npm install @tauri-apps/cli@$version"
  mkdir -p "$dir"
  (cd "$dir" && npm install --no-audit --no-fund --silent "@tauri-apps/cli@$version" >/dev/null)
  echo "$version" >"$dir/.version"
  ln -sf "$dir/node_modules/.bin/tauri" "$BIN/tauri"
}

install() {
  case $1 in
    # systemd-container + debootstrap: internal/systemdtest boots a debootstrapped
    # Debian root with systemd-nspawn (cached under $SLIPWAY_CACHE/systemd on first use).
    apt) apt_pkgs minisign osslsigncode wixl chromium wrk nginx-light prometheus-node-exporter rpm msitools systemd-container debootstrap libarchive-tools ;;
    postgres) apt_pkgs postgresql-15 ;; # internal/pgtest runs initdb/postgres from /usr/lib/postgresql/15/bin
    staticcheck) go_tool staticcheck honnef.co/go/tools/cmd/staticcheck v0.8.2 go ;;
    cosign) go_tool cosign github.com/sigstore/cosign/v2/cmd/cosign v2.6.5 ;;
    versitygw) go_tool versitygw github.com/versity/versitygw/cmd/versitygw v1.8.0 ;;
    goreleaser) go_tool goreleaser github.com/goreleaser/goreleaser/v2 v2.15.1 ;;
    helm) go_tool helm helm.sh/helm/v4/cmd/helm v4.3.2 ;; # deploy/helm chart tests
    quill) quill_tool ;;
    tauri) tauri_cli ;;
    *) log "unknown tool $1"; return 1 ;;
  esac
}

tools=("$@")
((${#tools[@]})) || tools=(apt postgres staticcheck cosign versitygw goreleaser quill tauri helm)
for t in "${tools[@]}"; do install "$t"; done
echo "$BIN"
