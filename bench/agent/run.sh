#!/usr/bin/env bash
# bench/agent/run.sh — slipway-agent footprint beside Debian's
# prometheus-node-exporter, measured in the same run on this machine:
#   * binary size per target (release flags: -trimpath -ldflags "-s -w")
#   * resident memory (VmRSS, VmHWM from /proc) of the running process
#   * CPU time (utime+stime from /proc/<pid>/stat) per heartbeat cycle
#     (inventory collection + metrics + one HTTPS-less POST to a local
#     `slipway server`), and per /metrics scrape for node-exporter.
# Prints a markdown section (paste it into docs/benchmarks/agent.md).
# Env: SAMPLE_SECONDS (default 60), WARMUP_SECONDS (default 10).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CGO_ENABLED=0 GOFLAGS=${GOFLAGS:--buildvcs=false}
SAMPLE=${SAMPLE_SECONDS:-60}
WARMUP=${WARMUP_SECONDS:-10}
NODE_EXPORTER=${NODE_EXPORTER:-$(command -v prometheus-node-exporter || true)}
[[ -n $NODE_EXPORTER ]] || { echo "prometheus-node-exporter missing: scripts/tools.sh apt" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# free_port: a random loopback port nothing listens on.
free_port() {
  local p
  for p in $(shuf -i 20000-60000 -n 100); do
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo "no free port" >&2; exit 1
}
hz=$(getconf CLK_TCK)
# cpu_ms PID: user+system CPU time of the process so far, in milliseconds.
cpu_ms() { awk -v hz="$hz" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000 / hz }' "/proc/$1/stat"; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
mib() { awk -v x="$1" 'BEGIN { printf "%.1f", x / 1024 }'; }
wait_http() { for _ in $(seq 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done; echo "timeout: $1" >&2; exit 1; }

ldflags="-s -w -X main.version=0.0.0-bench -X main.commit=bench"
echo "building binaries..." >&2
sizes=""
for os in linux darwin windows; do
  for arch in amd64 arm64; do
    row="| $os/$arch"
    for prog in agent desktop; do
      out=$work/size/$prog-$os-$arch
      GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$out" "./$prog"
      row+=" | $(mib $(( $(stat -c %s "$out") / 1024 ))) MiB"
    done
    sizes+="$row |"$'\n'
  done
done
go build -trimpath -ldflags "$ldflags" -o "$work/slipway-agent" ./agent
go build -trimpath -o "$work/slipway" ./cmd/slipway

echo "starting slipway server (heartbeat interval 1s)..." >&2
sport=$(free_port)
SLIPWAY_HEARTBEAT_INTERVAL=1s "$work/slipway" server --addr "127.0.0.1:$sport" --data "$work/data" >"$work/server.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$sport/healthz"
export SLIPWAY_CONFIG_DIR=$work/cfg
SLIPWAY_PROVISIONING_SECRET=$(cat "$work/data/provisioning-secret") \
  "$work/slipway-agent" enroll --server "http://127.0.0.1:$sport" >/dev/null
"$work/slipway-agent" run --log-level debug 2>"$work/agent.log" &
apid=$!
pids+=($apid)

echo "starting node-exporter..." >&2
nport=$(free_port)
"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$nport" >"$work/node.log" 2>&1 &
npid=$!
pids+=($npid)
wait_http "http://127.0.0.1:$nport/metrics"

beats() { grep -c 'path=/api/machines/heartbeat status=200' "$work/agent.log" || true; }
echo "warming up ${WARMUP}s..." >&2
sleep "$WARMUP"
for _ in 1 2 3; do curl -fsS -o /dev/null "http://127.0.0.1:$nport/metrics"; done

echo "sampling ${SAMPLE}s..." >&2
a0=$(cpu_ms $apid); b0=$(beats)
n0=$(cpu_ms $npid)
scrapes=0
end=$((SECONDS + SAMPLE))
while (( SECONDS < end )); do   # one scrape per second, like the agent's beat
  curl -fsS -o /dev/null "http://127.0.0.1:$nport/metrics"; scrapes=$((scrapes + 1)); sleep 1
done
a1=$(cpu_ms $apid); b1=$(beats)
n1=$(cpu_ms $npid)
nbeats=$((b1 - b0))
(( nbeats > 0 )) || { echo "no heartbeats during the sample" >&2; cat "$work/agent.log" >&2; exit 1; }

per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.1f", (b - a) / n }'; }
cat <<MD
### Agent footprint (bench/agent/run.sh)

Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uname -m), $(. /etc/os-release; echo "$PRETTY_NAME")), ${SAMPLE}s sample
after ${WARMUP}s warm-up, both processes running side by side. Command: \`bench/agent/run.sh\`.

| | slipway-agent | prometheus-node-exporter $("$NODE_EXPORTER" --version 2>&1 | awk 'NR==1{print $3}') |
|---|---|---|
| RSS (VmRSS) | $(mib "$(kib $apid VmRSS)") MiB | $(mib "$(kib $npid VmRSS)") MiB |
| peak RSS (VmHWM) | $(mib "$(kib $apid VmHWM)") MiB | $(mib "$(kib $npid VmHWM)") MiB |
| CPU per cycle | $(per "$a0" "$a1" "$nbeats") ms per heartbeat incl. inventory ($nbeats beats) | $(per "$n0" "$n1" "$scrapes") ms per /metrics scrape ($scrapes scrapes) |
| binary (linux/amd64) | $(mib $(( $(stat -c %s "$work/size/agent-linux-amd64") / 1024 ))) MiB | $(mib $(( $(stat -c %s "$NODE_EXPORTER") / 1024 ))) MiB (Debian build) |

Goals (issue 6): idle RSS < 20 MB, CPU per heartbeat cycle < 50 ms.
CPU per cycle is the process's total CPU time over the sample divided by the
acknowledged heartbeats (1 s interval forced by the server, every beat collects
the full inventory), so it includes idle overhead (GC, timers). RSS is taken
while beating every second, an upper bound for the idle agent (default
interval 60 s). Self-update is not configured in this run (no trust files).
node-exporter runs with Debian's default collectors and is scraped once a
second by curl.

Binary sizes (release flags \`-trimpath -ldflags "-s -w"\`, CGO_ENABLED=0):

| target | slipway-agent | slipway-desktop |
|---|---|---|
${sizes}
MD
