#!/usr/bin/env bash
# bench/release/run.sh — release pipeline benchmark (issue 4 "Performance").
#
# Side by side, in one run, on a temporary git repository made from HEAD of
# this checkout (fixed commit), for slipway-agent + slipway-desktop on
# linux/darwin/windows x amd64/arm64 (12 binaries):
#   go build loop     a plain loop of `go build` with the same flags
#   goreleaser        `goreleaser release --snapshot --clean` on .goreleaser.yaml
#   slipway release   build + sign (cosign, minisign) + publish into local S3
#                     (versitygw on 127.0.0.1), each into a fresh key prefix
#   slipway re-release  the same commit again into the same prefix (warm)
#   sign+publish only `slipway release --skip-build` into a fresh prefix
# "cold" runs use an empty GOCACHE (the module cache is shared: no network);
# "warm" runs reuse the cache the cold run filled.
#
# Usage: bench/release/run.sh [markdown-output-file]
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
out=${1:-}

export SLIPWAY_CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}
bin=$(scripts/tools.sh goreleaser versitygw)
export PATH=$bin:$PATH
export GOFLAGS=-buildvcs=false

work=$(mktemp -d /tmp/slipway-bench-release.XXXXXX)
vgw_pid=""
cleanup() {
  [[ -n $vgw_pid ]] && kill "$vgw_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

log() { printf '[bench] %s\n' "$*" >&2; }

# --- a repository at a fixed commit --------------------------------------
repo=$work/repo
mkdir -p "$repo"
git archive --format=tar HEAD | tar -x -C "$repo"
(
  cd "$repo"
  export GIT_AUTHOR_DATE=2026-01-02T03:04:05Z GIT_COMMITTER_DATE=2026-01-02T03:04:05Z
  git init -q && git add -A
  git -c user.name=bench -c user.email=bench@example.invalid commit -qm bench
  git remote add origin https://example.invalid/slipway.git
)
commit=$(git -C "$repo" rev-parse HEAD)

log "building the slipway CLI"
(cd "$repo" && go build -o "$work/slipway" ./cmd/slipway)
export SLIPWAY_BIN=$work/slipway

# --- local S3 --------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/s3"
export AWS_ACCESS_KEY_ID=bench$RANDOM$RANDOM AWS_SECRET_ACCESS_KEY=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
  versitygw --port "127.0.0.1:$port" --region us-east-1 --health /health --quiet posix "$work/s3" >"$work/vgw.log" 2>&1 &
vgw_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
curl -fsS -X PUT -H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)" --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "http://127.0.0.1:$port/bench" >/dev/null
store() { echo "s3://bench/$1?endpoint=127.0.0.1:$port&region=us-east-1&path-style=true&insecure=true"; }

# --- measured commands -----------------------------------------------------
declare -A result
timeit() { # name command...
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  if ! "$@" >"$work/$name.log" 2>&1; then
    log "$name failed:"; tail -30 "$work/$name.log" >&2; exit 1
  fi
  t1=$(date +%s.%N)
  result[$name]=$(python3 -c "print(f'{$t1-$t0:.1f}')")
  log "$name: ${result[$name]}s"
}

go_loop() {
  local version=0.0.1-bench
  for prog in agent desktop; do
    for os in linux darwin windows; do
      for arch in amd64 arm64; do
        (cd "$repo" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
          -ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
          -o "$work/loop/$prog-$os-$arch" "./$prog")
      done
    done
  done
}
goreleaser_only() { (cd "$repo" && goreleaser release --snapshot --clean --skip=publish,announce); }
slipway_release() { # prefix [extra flags]
  local prefix=$1; shift
  (cd "$repo" && "$work/slipway" release --snapshot --data "$work/data" --store "$(store "$prefix")" "$@")
}

for temp in cold warm; do
  if [[ $temp == cold ]]; then export GOCACHE=$work/gocache-loop; rm -rf "$GOCACHE"; fi
  timeit "loop_$temp" go_loop
  if [[ $temp == cold ]]; then export GOCACHE=$work/gocache-gr; rm -rf "$GOCACHE"; fi
  timeit "goreleaser_$temp" goreleaser_only
  if [[ $temp == cold ]]; then export GOCACHE=$work/gocache-slipway; rm -rf "$GOCACHE"; fi
  timeit "slipway_$temp" slipway_release "full-$temp"
done
# GOCACHE is now the slipway one, warm.
timeit rerelease_warm slipway_release full-warm
timeit signpublish slipway_release sign-only --skip-build

objects=$(grep -c '^  s3\|^  http' "$work/slipway_warm.log" || true)
pct() { python3 -c "print(f'{($1-$2)/$2*100:+.0f}%')"; }
table=$(cat <<EOF
| what (12 binaries, 6 targets x 2 programs) | cold cache | warm cache |
|---|---:|---:|
| plain \`go build\` loop | ${result[loop_cold]} s | ${result[loop_warm]} s |
| \`goreleaser release --snapshot --clean\` (build + archives + checksums) | ${result[goreleaser_cold]} s | ${result[goreleaser_warm]} s |
| \`slipway release --snapshot\` into local S3 (GoReleaser + sign + publish, fresh prefix) | ${result[slipway_cold]} s | ${result[slipway_warm]} s |
| slipway over goreleaser | $(pct "${result[slipway_cold]}" "${result[goreleaser_cold]}") | $(pct "${result[slipway_warm]}" "${result[goreleaser_warm]}") |
| \`slipway release --snapshot --skip-build\` (sign + publish only, fresh prefix) | | ${result[signpublish]} s |
| re-release of the unchanged commit (same prefix: nothing rewritten) | | ${result[rerelease_warm]} s |
EOF
)
echo
echo "$table"
echo
echo "commit $commit, $(nproc) cores, $(go version | cut -d' ' -f3), goreleaser $(goreleaser --version 2>/dev/null | grep -m1 GitVersion | awk '{print $2}'), ${objects} objects published per release, $(date -u +%Y-%m-%dT%H:%MZ)"
if [[ -n $out ]]; then
  { echo "$table"; echo; echo "commit $commit, $(nproc) cores shared, $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%dT%H:%MZ)"; } >"$out"
fi
