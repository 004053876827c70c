#!/usr/bin/env bash
# scripts/bench-release.sh — native `slipway release` against `dagger call
# release` of the same commit, side by side in one run, each publishing a
# full release (12 signed archives) to its own prefix of one S3 bucket.
# Results go into docs/benchmarks.md by hand (section "Issue 15").
#
#   native cold   empty GOCACHE (modules already downloaded), prebuilt goreleaser
#   native warm   same GOCACHE again (dist/ removed): full rebuild, warm cache
#   dagger cold   after `dagger core engine local-cache prune` (module runtime,
#                 cache volumes, layers gone); goreleaser primed into the tool
#                 volume first (timed apart), as native uses a prebuilt one
#   dagger warm   second release, other prefix: the build step is answered
#                 from the engine's cache, signing and upload run
#   dagger warm, new version   v1.4.1 tag on the same commit: build step
#                 not cached, warm Go cache volumes (like native warm)
#   dagger build again         unchanged source: whole call from cache
#
# BENCH_SKIP_COLD=1 skips the cold rows (an untimed native run and an
# untimed dagger release prime the caches first): a quick warm comparison.
#
# Same environment as scripts/dagger-e2e.sh (S3_ENDPOINT, S3_HOST_ENDPOINT,
# S3_INSECURE, HOST_NET, DAGGER_CTOR, GORELEASER_BIN, AWS_* keys); the bucket
# S3_BUCKET (default bench-<time>) is created.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3 # the Go toolchain every script uses (scripts/test.sh)
root=$(cd "$(dirname "$0")/.." && pwd)
: "${S3_ENDPOINT:?}" "${AWS_ACCESS_KEY_ID:?}" "${AWS_SECRET_ACCESS_KEY:?}" "${GORELEASER_BIN:?a prebuilt goreleaser}"
S3_HOST_ENDPOINT=${S3_HOST_ENDPOINT:-$S3_ENDPOINT}
S3_REGION=${S3_REGION:-us-east-1}
S3_INSECURE=${S3_INSECURE:-0}
S3_BUCKET=${S3_BUCKET:-bench-$(date +%s)}
HOST_NET=${HOST_NET:-}
read -r -a ctor <<<"${DAGGER_CTOR:-}"
work=${BENCH_WORK:-$(mktemp -d /tmp/slipway-bench.XXXXXX)}
export DAGGER_NO_NAG=1 DO_NOT_TRACK=1
export COSIGN_PASSWORD=bench-key-pw SLIPWAY_MINISIGN_PASSWORD=bench-key-pw

results=()
timed() {
  local name=$1 t0 t1
  shift
  printf '\n[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$name" >&2
  t0=$(date +%s.%N)
  "$@" >"$work/$name.log" 2>&1 || { echo "FAIL $name (log $work/$name.log)" >&2; tail -30 "$work/$name.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  results+=("$(awk -v n="$name" -v a="$t0" -v b="$t1" 'BEGIN { printf "| %s | %.1f s |", n, b - a }')")
  printf '%s\n' "${results[-1]}" >&2
}

src=$work/src
git clone -q "$root" "$src"
git -C "$src" -c user.name=bench -c user.email=bench@example.invalid tag -a v1.4.0 -m v1.4.0
git -C "$src" -c user.name=bench -c user.email=bench@example.invalid tag -a v1.4.1 -m v1.4.1
(cd "$src" && go build -trimpath -o "$work/slipway" ./cmd/slipway)
keys=$work/keys
"$work/slipway" keys generate --kind cosign --out "$keys" --password-env COSIGN_PASSWORD >/dev/null
"$work/slipway" keys generate --kind minisign --out "$keys" --password-env SLIPWAY_MINISIGN_PASSWORD >/dev/null
scheme=https
[[ $S3_INSECURE == 1 ]] && scheme=http
printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
  $HOST_NET curl -fsS -K - --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
    -X PUT "$scheme://$S3_HOST_ENDPOINT/$S3_BUCKET" -o /dev/null
spec="s3://$S3_BUCKET?endpoint=$S3_HOST_ENDPOINT&path-style=true&region=$S3_REGION"
[[ $S3_INSECURE == 1 ]] && spec+="&insecure=true"

# Native: the same command a release manager runs.
native() { # native PREFIX
  rm -rf "$src/dist"
  (cd "$src" && SLIPWAY_COSIGN_KEY=$keys/cosign.key SLIPWAY_MINISIGN_KEY=$keys/minisign.key \
    GOCACHE=$work/gocache $HOST_NET "$work/slipway" release --version v1.4.0 --store "$spec" --prefix "$1" \
    --goreleaser "$GORELEASER_BIN" --image)
}
# BENCH_SKIP_COLD=1: only the warm rows (GOCACHE primed by an untimed run,
# no engine prune), for a quick side-by-side.
if [[ ${BENCH_SKIP_COLD:-0} == 1 ]]; then
  native native-prime >"$work/native-prime.log" 2>&1
else
  timed "native cold (empty GOCACHE)" native native-cold
fi
timed "native warm" native native-warm

cd "$src"
rel() { # rel VERSION PREFIX
  local args=(release --version="$1" --s3-endpoint="$S3_ENDPOINT" --s3-bucket="$S3_BUCKET" --s3-region="$S3_REGION"
    --s3-prefix="$2" --s3-path-style
    --s3-access-key=env://AWS_ACCESS_KEY_ID --s3-secret-key=env://AWS_SECRET_ACCESS_KEY
    --cosign-key=file://"$keys/cosign.key" --cosign-password=env://COSIGN_PASSWORD
    --minisign-key=file://"$keys/minisign.key" --minisign-password=env://SLIPWAY_MINISIGN_PASSWORD)
  [[ $S3_INSECURE == 1 ]] && args+=(--s3-insecure)
  dagger call "${ctor[@]}" "${args[@]}" export --path="$work/out-$2"
}
if [[ ${BENCH_SKIP_COLD:-0} != 1 ]]; then
  timed "dagger engine cache prune" dagger core engine local-cache prune
  timed "dagger prime goreleaser (after prune)" dagger call "${ctor[@]}" container \
    with-file --path=/tmp/goreleaser --source="$GORELEASER_BIN" \
    with-exec --args=sh,-c,'mkdir -p /root/.cache/slipway/bin && cp /tmp/goreleaser /root/.cache/slipway/bin/' stdout
  timed "dagger release cold" rel v1.4.0 dagger-cold
else
  rel v1.4.0 dagger-cold >"$work/dagger-prime.log" 2>&1 # untimed: the build step of this commit and version
fi
timed "dagger release warm (build cached)" rel v1.4.0 dagger-warm
timed "dagger release warm, new version v1.4.1 (build not cached)" rel v1.4.1 dagger-warm-141
timed "dagger build" dagger call "${ctor[@]}" build export --path="$work/build-1"
timed "dagger build again (unchanged source)" dagger call "${ctor[@]}" build export --path="$work/build-2"

printf '\n| run | wall time |\n| --- | --- |\n'
printf '%s\n' "${results[@]}"
printf '\n(work dir %s; logs per run there)\n' "$work"
