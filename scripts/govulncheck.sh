#!/usr/bin/env bash
# scripts/govulncheck.sh — govulncheck against an offline vulnerability
# database built from the golang.org/x/vulndb module (its data/osv reports)
# at a pinned version, fetched through the Go module proxy like any module.
# Nothing is fetched from the vulnerability database's web service.
#
# Usage: scripts/govulncheck.sh [packages...]   (default ./...)
# Not part of scripts/test.sh: the first run downloads vulndb's tools'
# dependencies and takes several minutes; the database and the tool are
# cached under $SLIPWAY_CACHE.
set -euo pipefail

VULN_VERSION=v1.9.0                                   # golang.org/x/vuln (govulncheck)
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018     # golang.org/x/vulndb (reports, indexdb)

# The Go toolchain: go1.27.3 (the go command fetches it from the module
# proxy on first use), for the standard library's security fixes; go.mod
# keeps its `go` line. Every script that runs go sets this (README.md).
export GOTOOLCHAIN=go1.27.3
SLIPWAY_CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}
BIN=$SLIPWAY_CACHE/bin
DB=$SLIPWAY_CACHE/vulndb-$VULNDB_VERSION
mkdir -p "$BIN"
log() { printf '[govulncheck] %s\n' "$*" >&2; }

if [[ ! -x $BIN/govulncheck || $(cat "$BIN/.govulncheck.version" 2>/dev/null) != "$VULN_VERSION" ]]; then
  log "building govulncheck $VULN_VERSION"
  GOBIN=$BIN CGO_ENABLED=0 go install "golang.org/x/vuln/cmd/govulncheck@$VULN_VERSION"
  echo "$VULN_VERSION" >"$BIN/.govulncheck.version"
fi
if [[ ! -f $DB/index/db.json ]]; then
  log "building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION"
  src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  rm -rf "$DB.tmp"
  go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$DB.tmp"
  mv "$DB.tmp" "$DB"
fi
cd "$(dirname "$0")/.."
exec "$BIN/govulncheck" -db "file://$DB" "${@:-./...}"
