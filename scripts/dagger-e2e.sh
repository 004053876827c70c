#!/usr/bin/env bash
# scripts/dagger-e2e.sh — the Dagger module against a real engine and a real
# S3 bucket, end to end. Not part of .ci/run (CI machines have no engine).
#
#   dagger functions
#   dagger call build export                (and again: answered from cache)
#   dagger call release --channel export    to S3
#   (delete an archive and its .minisig from the bucket)
#   dagger call release --channel export    again: must notice and repair
#   commit the returned release/channels.yaml (scripts/channels-pr.sh)
#   dagger call promote                     applies it (TUF)
#
# and checks: twelve archives (agent and desktop x linux/darwin/windows x
# amd64/arm64) with .minisig, .cosign.sig and .sigstore.json and both
# release.json in the bucket, every signature verified by the real minisign
# and cosign CLIs; the returned channels change; the repair; storage in sync
# after promote (slipway plan --detailed-exitcode). Prints a table of the
# time of each call (docs/pipeline.md has a transcript).
#
# Needs: `dagger` (v0.19.7) on PATH with an engine (Docker/Podman, or
# _EXPERIMENTAL_DAGGER_RUNNER_HOST), go, git, curl, minisign, cosign
# (scripts/tools.sh), and an S3 endpoint:
#   S3_ENDPOINT       host:port as the engine's containers reach it (required)
#   S3_HOST_ENDPOINT  host:port as this script reaches it (default S3_ENDPOINT)
#   S3_REGION         default us-east-1
#   S3_INSECURE       1 for plain HTTP (default 0)
#   S3_BUCKET         default e2e-<time>, created
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
#   HOST_NET          command prefix for this script's own S3 traffic, e.g.
#                     "nsenter -t PID -n" for the dagger harness (default none)
#   DAGGER_CTOR       constructor flags, e.g. "--go-image=... --goproxy=..."
#   GORELEASER_BIN    optional prebuilt goreleaser copied into the module's
#                     tool cache volume first (saves the in-container go install)
#   REGISTRY          optional host:port where the engine's containers reach a
#                     registry this script starts (internal/registrytest, with
#                     a login; run under HOST_NET): the release then pushes
#                     the server image there with --registry-username/
#                     --registry-password, and cosign verifies it
#   VERSION (v1.4.0), CHANNEL (beta), E2E_WORK (default a temp dir)
set -euo pipefail
export GOTOOLCHAIN=go1.27.3 # the Go toolchain every script uses (scripts/test.sh)

root=$(cd "$(dirname "$0")/.." && pwd)
: "${S3_ENDPOINT:?S3_ENDPOINT (host:port reachable from the engine) is required}"
: "${AWS_ACCESS_KEY_ID:?}" "${AWS_SECRET_ACCESS_KEY:?}"
S3_HOST_ENDPOINT=${S3_HOST_ENDPOINT:-$S3_ENDPOINT}
S3_REGION=${S3_REGION:-us-east-1}
S3_INSECURE=${S3_INSECURE:-0}
S3_BUCKET=${S3_BUCKET:-e2e-$(date +%s)}
VERSION=${VERSION:-v1.4.0}
CHANNEL=${CHANNEL:-beta}
HOST_NET=${HOST_NET:-}
read -r -a ctor <<<"${DAGGER_CTOR:-}"
work=${E2E_WORK:-$(mktemp -d /tmp/slipway-e2e.XXXXXX)}
mkdir -p "$work"
bare=${VERSION#v}
export DAGGER_NO_NAG=1 DO_NOT_TRACK=1
export COSIGN_PASSWORD=${COSIGN_PASSWORD:-e2e-key-pw} SLIPWAY_MINISIGN_PASSWORD=${SLIPWAY_MINISIGN_PASSWORD:-e2e-key-pw}
export PATH=${SLIPWAY_CACHE:-$HOME/.cache/slipway}/bin:$PATH

log() { printf '\n[e2e %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() { printf '[e2e] FAIL: %s\n' "$*" >&2; exit 1; }
for tool in dagger go git curl minisign cosign; do
  command -v "$tool" >/dev/null || fail "$tool not found"
done

# timed NAME CMD... runs CMD with its output in $work/NAME.log (and on
# stderr), and records its wall time.
timings=()
timed() {
  local name=$1 t0 t1
  shift
  log "$name: $*"
  t0=$(date +%s.%N)
  if ! "$@" 2>&1 | tee "$work/$name.log" >&2; then
    fail "$name failed (log: $work/$name.log)"
  fi
  t1=$(date +%s.%N)
  timings+=("$(awk -v n="$name" -v a="$t0" -v b="$t1" 'BEGIN { printf "| `%s` | %.1f s |", n, b - a }')")
}

# S3 requests from this host (SigV4 by curl; credentials via a config on
# stdin, never on the command line).
scheme=https
[[ $S3_INSECURE == 1 ]] && scheme=http
s3() { # s3 METHOD PATH [curl args...]
  local method=$1 path=$2
  shift 2
  printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
    $HOST_NET curl -fsS -K - --aws-sigv4 "aws:amz:$S3_REGION:s3" \
      -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
      -X "$method" "$@" "$scheme://$S3_HOST_ENDPOINT/$S3_BUCKET$path"
}
s3_keys() { # keys under a prefix (encoded: versitygw signs the query as sent)
  s3 GET "?list-type=2&prefix=${1//\//%2F}" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'
}
host_spec="s3://$S3_BUCKET?endpoint=$S3_HOST_ENDPOINT&path-style=true&region=$S3_REGION"
[[ $S3_INSECURE == 1 ]] && host_spec+="&insecure=true"

log "work dir $work, bucket $S3_BUCKET at $S3_ENDPOINT (from here $S3_HOST_ENDPOINT)"

# The project at its current commit, tagged, as a release workflow sees it.
src=$work/src
rm -rf "$src"
git clone -q "$root" "$src"
git -C "$src" -c user.name=e2e -c user.email=e2e@example.invalid tag -a "$VERSION" -m "$VERSION"
log "commit $(git -C "$src" rev-parse --short HEAD), tag $VERSION"
(cd "$src" && go build -trimpath -o "$work/slipway" ./cmd/slipway)
slipway=$work/slipway

# Keys: release signing keys and the TUF repository (tuf init makes the
# TUF keys in the same directory).
keys=$work/keys
rm -rf "$keys"
"$slipway" keys generate --kind cosign --out "$keys" --password-env COSIGN_PASSWORD >/dev/null
"$slipway" keys generate --kind minisign --out "$keys" --password-env SLIPWAY_MINISIGN_PASSWORD >/dev/null
s3 PUT "" -o /dev/null || log "bucket $S3_BUCKET not created (exists?)"
$HOST_NET "$slipway" tuf init --store "$host_spec" --keys "$keys" --minisign-pub "$keys/minisign.pub" >/dev/null

cd "$src"
if [[ -n ${GORELEASER_BIN:-} ]]; then
  timed prime-goreleaser dagger call "${ctor[@]}" container \
    with-file --path=/tmp/goreleaser --source="$GORELEASER_BIN" \
    with-exec --args=sh,-c,'mkdir -p /root/.cache/slipway/bin && cp /tmp/goreleaser /root/.cache/slipway/bin/' stdout
fi

timed functions dagger functions
for f in build release promote test container; do
  grep -q "^$f " "$work/functions.log" || fail "dagger functions does not list $f"
done

# Exports merge into existing directories: start from empty ones.
rm -rf "$work/build" "$work/build-again" "$work/release-1" "$work/release-2"

# Snapshot build, then the same again: the second is answered from cache.
timed build dagger call "${ctor[@]}" build export --path="$work/build"
timed build-again dagger call "${ctor[@]}" build export --path="$work/build-again"
diff -r "$work/build" "$work/build-again" >/dev/null || fail "second build of the same source differs (not from cache)"
# Twelve archives (agent and desktop x 3 OS x 2 arch); packages, SBOMs and
# provenance are signed too, and every signature must verify.
# Plus the macOS forms: the desktop's Slipway.app and the agent's launchd
# archive per arch (*.app.tar.gz, *_launchd.tar.gz).
n=$(find "$work/build/releases" \( -name '*.tar.gz.minisig' -o -name '*.zip.minisig' \) \
  ! -name '*.app.tar.gz.minisig' ! -name '*_launchd.tar.gz.minisig' | wc -l)
((n == 12)) || fail "build: $n signed archives, want 12"
n=$(find "$work/build/releases" \( -name '*.app.tar.gz.minisig' -o -name '*_launchd.tar.gz.minisig' \) | wc -l)
((n == 4)) || fail "build: $n signed macOS app/launchd archives, want 4"
n=$(find "$work/build/releases" -name '*.pkg.minisig' | wc -l)
((n == 2)) || fail "build: $n signed macOS agent packages, want 2"
signed=0
for f in $(find "$work/build/releases" -name '*.minisig'); do
  minisign -Vqm "${f%.minisig}" -p "$work/build/keys/minisign.pub" >/dev/null || fail "build: minisign rejects ${f%.minisig}"
  signed=$((signed + 1))
done
log "build: 12 archives + 4 macOS app/launchd archives + 2 agent .pkg, $signed minisign signatures (archives, packages, SBOMs, provenance, checksums) verify with the returned dev key; second build identical"

rel=(release --version="$VERSION" --channel="$CHANNEL"
  --s3-endpoint="$S3_ENDPOINT" --s3-bucket="$S3_BUCKET" --s3-region="$S3_REGION" --s3-path-style
  --s3-access-key=env://AWS_ACCESS_KEY_ID --s3-secret-key=env://AWS_SECRET_ACCESS_KEY
  --cosign-key=file://"$keys/cosign.key" --cosign-password=env://COSIGN_PASSWORD
  --minisign-key=file://"$keys/minisign.key" --minisign-password=env://SLIPWAY_MINISIGN_PASSWORD
  --minisign-pub="$keys/minisign.pub")
[[ $S3_INSECURE == 1 ]] && rel+=(--s3-insecure)

# Optional: a registry that wants a login, for the server image.
if [[ -n ${REGISTRY:-} ]]; then
  export REGISTRY_PASSWORD=e2e-registry-token-$RANDOM$RANDOM
  (cd "$src" && go build -o "$work/registrytest" ./internal/registrytest/cmd/registrytest)
  $HOST_NET "$work/registrytest" -addr "$REGISTRY" -user ci-bot >"$work/registry.log" 2>&1 &
  registry_pid=$!
  trap 'kill "$registry_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 50); do $HOST_NET curl -s -o /dev/null "http://$REGISTRY/v2/" && break; sleep 0.1; done
  rel+=(--image-repo="$REGISTRY/slipway/slipway" --image-insecure-registry
    --registry-username=ci-bot --registry-password=env://REGISTRY_PASSWORD)
fi

timed release dagger call "${ctor[@]}" "${rel[@]}" export --path="$work/release-1"

# verify_bucket: every object of both releases, fetched from the bucket and
# checked with the real CLIs.
verify_bucket() {
  local dir=$work/bucket archives=0 signed=0 key
  rm -rf "$dir"
  for product in agent desktop; do
    local prefix=releases/$product/$bare/
    for key in $(s3_keys "$prefix"); do
      mkdir -p "$dir/$(dirname "$key")"
      s3 GET "/$key" -o "$dir/$key"
    done
    [[ -f $dir/${prefix}release.json ]] || fail "$product: no release.json in the bucket"
    for f in "$dir/$prefix"*.tar.gz "$dir/$prefix"*.zip "$dir/$prefix"*.deb "$dir/$prefix"*.rpm \
      "$dir/$prefix"*.apk "$dir/$prefix"*.msi "$dir/$prefix"*.pkg "$dir/$prefix"*.spdx.json "$dir/$prefix"*.intoto.jsonl; do
      [[ -f $f ]] || continue
      case $f in *.app.tar.gz | *_launchd.tar.gz) ;; *.tar.gz | *.zip) archives=$((archives + 1)) ;; esac
      signed=$((signed + 1))
      for ext in .minisig .cosign.sig .sigstore.json; do
        [[ -f $f$ext ]] || fail "$(basename "$f"): no $ext in the bucket"
      done
      minisign -Vqm "$f" -p "$keys/minisign.pub" || fail "minisign rejects $(basename "$f")"
      # Offline: no TUF cache in HOME, Rekor key unused (as signing/cosign's tests).
      HOME=$work/cosign-home SIGSTORE_REKOR_PUBLIC_KEY=$work/unused-rekor.pub cosign verify-blob --key "$keys/cosign.pub" \
        --signature "$f.cosign.sig" --insecure-ignore-tlog=true "$f" >/dev/null 2>&1 ||
        fail "cosign rejects $(basename "$f")"
    done
  done
  ((archives == 12)) || fail "$archives archives in the bucket, want 12"
  log "bucket: 12 archives and $signed signed files in all (archives, packages, SBOMs, provenance), .minisig/.cosign.sig/.sigstore.json each, 2 release.json; minisign and cosign verify all"
}
verify_bucket

if [[ -n ${REGISTRY:-} ]]; then
  digest=$(grep -o "\"digest\": *\"$REGISTRY/slipway/slipway@[^\"]*\"" "$work/release-1/report.json" | sed 's/.*: *"//; s/"$//')
  [[ $digest == "$REGISTRY/slipway/slipway@sha256:"* ]] || fail "report.json names no pushed image digest ($digest)"
  mkdir -p "$work/docker"
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REGISTRY" "$(printf 'ci-bot:%s' "$REGISTRY_PASSWORD" | base64 -w0)" >"$work/docker/config.json"
  DOCKER_CONFIG=$work/docker HOME=$work/cosign-home SIGSTORE_REKOR_PUBLIC_KEY=$work/unused-rekor.pub \
    $HOST_NET cosign verify --key "$keys/cosign.pub" --insecure-ignore-tlog=true \
    --allow-http-registry=true --allow-insecure-registry=true "$digest" >/dev/null 2>&1 ||
    fail "cosign verify rejects the pushed image $digest"
  log "image: pushed with the registry login to $digest; cosign verify passes"
fi

# The returned channels change: both products on the channel at the version.
returned=$work/release-1/release/channels.yaml
[[ -f $returned && -f $work/release-1/report.json && -d $work/release-1/dist ]] ||
  fail "release returned $(ls "$work/release-1")"
for product in agent desktop; do
  grep -A4 "^  $product:" "$returned" | grep -q "$bare" || fail "returned channels file does not serve $product $bare"
done
if diff -q release/channels.yaml "$returned" >/dev/null; then fail "returned channels file unchanged"; fi
log "returned channels change:"
diff -u release/channels.yaml "$returned" >&2 || true

# A second release with the same arguments must really run: delete an
# archive and its minisign signature; the release notices and re-uploads.
# (listed first: grep -m1 closing the pipe early would fail curl under pipefail)
agent_keys=$(s3_keys "releases/agent/$bare/")
victim=$(grep -m1 'linux_amd64.*\.tar\.gz$' <<<"$agent_keys")
s3 DELETE "/$victim"
s3 DELETE "/$victim.minisig"
log "deleted $victim and its .minisig from the bucket"
timed release-again dagger call "${ctor[@]}" "${rel[@]}" export --path="$work/release-2"
grep -q "is published but 2 of its objects are missing from the store: uploading them again" "$work/release-2/report.txt" ||
  fail "second release did not report the repair"
grep -q '"missing": 2' "$work/release-2/report.json" || fail "report.json lacks missing: 2"
verify_bucket

# GitOps: commit the returned change (what the pull request carries), then
# apply it from the commit.
CHANNELS_BASE=HEAD CHANNELS_PUSH=0 bash "$root/scripts/channels-pr.sh" "$work/release-1" "$VERSION" "$CHANNEL" >&2
timed promote dagger call "${ctor[@]}" promote \
  --s3-endpoint="$S3_ENDPOINT" --s3-bucket="$S3_BUCKET" --s3-region="$S3_REGION" --s3-path-style \
  $([[ $S3_INSECURE == 1 ]] && echo --s3-insecure) \
  --s3-access-key=env://AWS_ACCESS_KEY_ID --s3-secret-key=env://AWS_SECRET_ACCESS_KEY \
  --tuf-targets-key=file://"$keys/tuf-targets.key" --tuf-online-key=file://"$keys/tuf-online.key" \
  --minisign-pub="$keys/minisign.pub"
$HOST_NET "$slipway" plan --detailed-exitcode --channels release/channels.yaml --store "$host_spec" \
  --keys "$keys" --minisign-pub "$keys/minisign.pub" >&2 || fail "storage differs from the committed channels file after promote"
log "promote applied the committed change; slipway plan --detailed-exitcode: in sync"

printf '\n| call | time |\n| --- | --- |\n'
printf '%s\n' "${timings[@]}"
printf '\nPASS (work dir %s)\n' "$work"
