#!/usr/bin/env bash
# scripts/govulncheck.sh — govulncheck against an offline vulnerability
# database built from the golang.org/x/vulndb module (its data/osv reports)
# at a pinned version, fetched through the Go module proxy like any module.
# Nothing is fetched from the vulnerability database's web service.
#
# Usage: scripts/govulncheck.sh [packages...]   (default ./...)
# scripts/test.sh runs it. Exit status 3: a reachable vulnerability.
#
# Cached under $SLIPWAY_CACHE: the tool, the database (one directory per
# vulndb version; the first build takes several minutes) and a stamp of the
# last passing scan. The stamp's key is go.mod, go.sum, the Go toolchain,
# the govulncheck and vulndb versions and the packages scanned; when that
# scan also found vulnerabilities the code does not call (in packages it
# imports or modules it requires), the key includes every .go file too,
# since a code change could then reach one. While the key is unchanged the
# scan is skipped. SLIPWAY_VULNCHECK=force scans anyway.
set -euo pipefail

# The Go toolchain: go1.27.3 (the go command fetches it from the module
# proxy on first use), for the standard library's security fixes; go.mod
# keeps its `go` line. Every script that runs go sets this (README.md).
export GOTOOLCHAIN=go1.27.3

VULN_VERSION=v1.9.0                                   # golang.org/x/vuln (govulncheck)
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018     # golang.org/x/vulndb (reports, indexdb)

SLIPWAY_CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}
BIN=$SLIPWAY_CACHE/bin
DB=$SLIPWAY_CACHE/vulndb-$VULNDB_VERSION
STAMP=$SLIPWAY_CACHE/govulncheck.pass
mkdir -p "$BIN"
log() { printf '[govulncheck] %s\n' "$*" >&2; }
cd "$(dirname "$0")/.."
main() {
  local gover want
  gover=$(go env GOVERSION)
  # Built with the Go it analyses (it type-checks the standard library).
  want="$VULN_VERSION $gover"
  if [[ ! -x $BIN/govulncheck || $(cat "$BIN/.govulncheck.version" 2>/dev/null) != "$want" ]]; then
    log "building govulncheck $VULN_VERSION with $gover"
    GOBIN=$BIN CGO_ENABLED=0 go install "golang.org/x/vuln/cmd/govulncheck@$VULN_VERSION"
    echo "$want" >"$BIN/.govulncheck.version"
  fi
  if [[ ! -f $DB/index/db.json ]]; then
    log "building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION"
    local src
    src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
    rm -rf "$DB.tmp" "$DB"
    go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$DB.tmp"
    mv -T "$DB.tmp" "$DB"
  fi
  local key out rc=0
  key=$(stamp_key "$gover" "$@" base)
  if [[ ${SLIPWAY_VULNCHECK:-} != force && -f $STAMP ]]; then
    local kind
    kind=$(sed -n 1p "$STAMP")
    [[ $kind == sources ]] && key=$(stamp_key "$gover" "$@" sources)
    if [[ $(sed -n 2p "$STAMP") == "$key" ]]; then
      log "skipped: nothing it depends on changed since the last passing scan ($STAMP; SLIPWAY_VULNCHECK=force to scan)"
      return 0
    fi
  fi
  out=$(mktemp)
  "$BIN/govulncheck" -db "file://$DB" "$@" | tee "$out" || rc=${PIPESTATUS[0]}
  if ((rc == 0)); then
    if grep -q "This scan also found\|vulnerabilities in packages you import\|vulnerabilities in modules you require" "$out"; then
      printf 'sources\n%s\n' "$(stamp_key "$gover" "$@" sources)" >"$STAMP"
    else
      printf 'base\n%s\n' "$key" >"$STAMP"
    fi
  fi
  rm -f "$out"
  return "$rc"
}

# stamp_key GOVERSION PACKAGES... KIND — what a passing scan depended on.
stamp_key() {
  local kind=${*: -1}
  {
    echo "$VULN_VERSION $VULNDB_VERSION ${*:1:$#-1}"
    sha256sum go.mod go.sum
    if [[ $kind == sources ]]; then
      git ls-files -co --exclude-standard -z '*.go' 2>/dev/null | xargs -0 sha256sum 2>/dev/null || find . -name '*.go' -not -path './pipeline/*' -exec sha256sum {} +
    fi
  } | sha256sum | cut -d' ' -f1
}

if (($# == 0)); then set -- ./...; fi
main "$@"
