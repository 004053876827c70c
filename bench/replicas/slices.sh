#!/usr/bin/env bash
# bench/replicas/slices.sh — heartbeat ingest on SQLite vs PostgreSQL with
# one and two server replicas, as a scale model: every server (the SQLite
# server, each PostgreSQL-backed replica, and PostgreSQL itself) runs as its
# own OS process in its own cgroup v1 CPU slice of the same size, as if each
# had a small machine of its own. The load generator (bench/heartbeat) runs
# outside the slices. bench/replicas/run.sh instead runs everything in one
# process on the shared cores, where a second replica has nothing to scale
# onto.
#
# Runs, each on a freshly seeded store, same load generator and settings:
#   a. SQLite: one `slipway server` (synchronous=FULL) in a slice
#   b. PostgreSQL (fsync=on, synchronous_commit=on) in a slice + one replica
#   c. PostgreSQL in a slice + two replicas, loaded round-robin
# Each load first sends one heartbeat per machine to every server (warm
# token caches; not measured), then measures for [duration], then checks
# that every acknowledged heartbeat is in the store.
#
# Usage: bench/replicas/slices.sh [machines] [duration] [concurrency] [slice]
# (defaults 100000 20s 64 0.4; slice is the CPU quota of each slice in cores).
# SLIPWAY_DB_SLICE=cores gives the PostgreSQL slice another size (a what-if:
# a bigger database machine); by default it is the same as every other.
# Needs root (cgroups, PostgreSQL as the postgres user) and PostgreSQL 15.
set -euo pipefail
machines=${1:-100000}
duration=${2:-20s}
concurrency=${3:-64}
slice=${4:-0.4}
dbslice=${SLIPWAY_DB_SLICE:-$slice}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${SLIPWAY_PG_BIN:-/usr/lib/postgresql/15/bin}
cg=${SLIPWAY_CGROUP_ROOT:-/sys/fs/cgroup}
die() { echo "slices.sh: $*" >&2; exit 1; }

[[ -x $bin/postgres ]] || die "PostgreSQL 15 not found in $bin (scripts/tools.sh postgres, or set SLIPWAY_PG_BIN)"
[[ $(id -u) == 0 ]] || die "run as root: it creates cgroups and runs PostgreSQL as the postgres user"
id postgres >/dev/null 2>&1 || die "no postgres user to run PostgreSQL as"
period=100000
# quota_of CORES: cfs_quota_us for a slice of CORES cores.
quota_of() {
  awk -v s="$1" -v n="$(nproc)" 'BEGIN { exit !(s ~ /^[0-9]*\.?[0-9]+$/ && s > 0 && s <= n) }' ||
    die "slice $1: want a number of cores in (0, $(nproc)]"
  awk -v s="$1" -v p="$period" 'BEGIN { q = int(s * p); if (q < 1000) exit 1; print q }' ||
    die "slice $1 is below the kernel's 1 ms minimum quota"
}
quota=$(quota_of "$slice")
dbquota=$(quota_of "$dbslice")
for h in cpu cpuacct; do
  [[ -d $cg/$h && -w $cg/$h ]] || die "cgroup v1 '$h' hierarchy is not mounted writable at $cg/$h (needs cgroup v1 cpu and cpuacct, root, and a privileged container)"
done

tag=slipway-slices-$$
work=$(mktemp -d /tmp/slipway-slices-XXXXXX)
chown postgres: "$work"
servers=()   # PIDs of the slipway servers we started
groups=()    # cgroup names we created
pgdata=""    # data directory of the running PostgreSQL cluster

stop_servers() {
  local p
  for p in "${servers[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${servers[@]}"; do wait "$p" 2>/dev/null || true; done
  servers=()
}
stop_pg() {
  # Stop the server by the PID in its postmaster.pid (runuser does not pass signals on).
  if [[ -n $pgdata && -f $pgdata/postmaster.pid ]]; then
    kill -INT "$(head -1 "$pgdata/postmaster.pid")" 2>/dev/null || true
    for _ in $(seq 300); do [[ -f $pgdata/postmaster.pid ]] || break; sleep 0.1; done
  fi
  pgdata=""
}
remove_groups() {
  local g h
  for g in "${groups[@]}"; do
    for h in cpu cpuacct; do
      [[ -d $cg/$h/$g ]] || continue
      for _ in $(seq 50); do rmdir "$cg/$h/$g" 2>/dev/null && break; sleep 0.1; done
      [[ -d $cg/$h/$g ]] && echo "slices.sh: could not remove cgroup $cg/$h/$g" >&2
    done
  done
  groups=()
}
cleanup() {
  stop_servers
  stop_pg
  remove_groups
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# mkslice NAME: a cgroup under cpu and cpuacct, unlimited until set_quotas.
mkslice() {
  local g=$tag-$1 h
  for h in cpu cpuacct; do
    mkdir -p "$cg/$h/$g" || die "cannot create cgroup $cg/$h/$g"
  done
  groups+=("$g")
  echo "$period" >"$cg/cpu/$g/cpu.cfs_period_us" && echo -1 >"$cg/cpu/$g/cpu.cfs_quota_us" ||
    die "cannot set the CPU quota of $cg/cpu/$g"
}
# set_quotas: every slice of this run gets the same quota (PostgreSQL's
# is SLIPWAY_DB_SLICE when set).
set_quotas() {
  local g q
  for g in "${groups[@]}"; do
    q=$quota
    [[ $g == "$tag-postgres" ]] && q=$dbquota
    echo "$q" >"$cg/cpu/$g/cpu.cfs_quota_us"
  done
}
# in_slice NAME CMD...: exec CMD inside slice NAME (children inherit it).
# Run in the background it replaces its subshell, so $! is CMD's PID.
in_slice() {
  local g=$tag-$1
  shift
  exec bash -c 'echo $$ >"$1/cgroup.procs" && echo $$ >"$2/cgroup.procs" && shift 2 && exec "$@"' _ \
    "$cg/cpu/$g" "$cg/cpuacct/$g" "$@"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_pg NAME: a fresh durable cluster under NAME in slice postgres; sets
# pgport, pgdata, pgurl.
start_pg() {
  local dir=$work/$1
  mkdir -p "$dir" && chown postgres: "$dir"
  runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U slipway --auth=trust -E UTF8 --locale=C --no-instructions >/dev/null
  pgport=$(free_port)
  pgdata=$dir/data
  in_slice postgres runuser -u postgres -- "$bin/postgres" -D "$dir/data" -h 127.0.0.1 -p "$pgport" -k "$dir" \
    -c fsync=on -c synchronous_commit=on -c shared_buffers=256MB -c max_connections=200 \
    -c log_min_messages=fatal >"$dir/pg.log" 2>&1 &
  for _ in $(seq 300); do "$bin/pg_isready" -q -h 127.0.0.1 -p "$pgport" && break; sleep 0.1; done
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$pgport" || { cat "$dir/pg.log" >&2; die "PostgreSQL did not start"; }
  "$bin/psql" -q -h 127.0.0.1 -p "$pgport" -U slipway -d postgres -c "CREATE DATABASE bench"
  pgurl="postgres://slipway@127.0.0.1:$pgport/bench?sslmode=disable"
}

# start_server NAME DATADIR [DATABASE_URL]: `slipway server` in slice NAME;
# appends its URL to urls.
start_server() {
  local name=$1 data=$2 dburl=${3:-} port
  port=$(free_port)
  mkdir -p "$data"
  SLIPWAY_ADDR=127.0.0.1:$port SLIPWAY_DATA=$data SLIPWAY_DATABASE_URL=$dburl \
    SLIPWAY_RATE_LIMIT=1000000 SLIPWAY_RATE_BURST=1000000 SLIPWAY_LOG_LEVEL=warn \
    in_slice "$name" "$work/slipway" server >"$work/$name.log" 2>&1 &
  servers+=("$!")
  local pid=$!
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/$name.log" >&2; die "server $name exited"; }
    sleep 0.1
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" || { cat "$work/$name.log" >&2; die "server $name is not ready"; }
  urls+=("http://127.0.0.1:$port")
}

# measure RUN STORE_FLAG STORE: warm, load and verify the servers in urls,
# report the CPU of every slice of this run.
measure() {
  local run=$1 spec="" g
  shift
  for g in "${groups[@]}"; do spec+="${spec:+,}${g#"$tag"-}=$g"; done
  set_quotas
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  local rc=0
  "$work/heartbeat" -target "$(IFS=,; echo "${urls[*]}")" -tokens "$work/$run.tokens" -warm -slices "$spec" \
    -cgroup-root "$cg" -machines "$machines" -duration "$duration" -concurrency "$concurrency" "$@" |
    tee "$work/$run.out" || rc=$?
  (( rc == 0 )) || { echo "slices.sh: run $run FAILED (exit $rc)" >&2; failed=1; }
  stop_servers
  stop_pg
  remove_groups
}

cd "$root"
go build -o "$work/slipway" ./cmd/slipway || die "go build ./cmd/slipway failed"
go build -o "$work/heartbeat" ./bench/heartbeat || die "go build ./bench/heartbeat failed"
failed=0
echo "# heartbeat ingest in CPU slices: $machines machines, $duration per run, $concurrency clients, slice $slice cores (cfs_quota_us=$quota of $period) per server, $dbslice per database, $(nproc) cores"
echo "# $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- server cmd || echo ' + uncommitted changes in server/ or cmd/'), $(go version | cut -d' ' -f3), $(uname -r)"

echo
echo "## a. SQLite (synchronous=FULL): one server in a $slice-core slice"
urls=()
mkslice sqlite
"$work/heartbeat" -seed "$work/sqlite" -tokens "$work/sqlite.tokens" -machines "$machines"
start_server sqlite "$work/sqlite"
measure sqlite -data "$work/sqlite"

echo
echo "## b. PostgreSQL (fsync=on, synchronous_commit=on) in a $dbslice-core slice, one server replica in a $slice-core slice"
urls=()
mkslice postgres
mkslice replica1
start_pg pg1
"$work/heartbeat" -seed "$work/pg1.boot" -database-url "$pgurl" -tokens "$work/pg1.tokens" -machines "$machines"
start_server replica1 "$work/pg1.replica1" "$pgurl"
measure pg1 -database-url "$pgurl"

echo
echo "## c. PostgreSQL in a $dbslice-core slice, two server replicas in a $slice-core slice each (round-robin, no sticky sessions)"
urls=()
mkslice postgres
mkslice replica1
mkslice replica2
start_pg pg2
"$work/heartbeat" -seed "$work/pg2.boot" -database-url "$pgurl" -tokens "$work/pg2.tokens" -machines "$machines"
start_server replica1 "$work/pg2.replica1" "$pgurl"
start_server replica2 "$work/pg2.replica2" "$pgurl"
measure pg2 -database-url "$pgurl"

# row RUN: "heartbeats/s|p50|p99|persistence|µs per heartbeat|throttled" from a run's output.
row() {
  local f=$work/$1.out
  [[ -f $f ]] || { echo "|||||"; return; }
  local t s
  t=$(awk -F'|' '/^\| external /{gsub(/^ +| +$/, "", $5); gsub(/^ +| +$/, "", $6); gsub(/^ +| +$/, "", $8);
        p = ($11 ~ /FAILED/) ? "FAILED" : "ok"; print $5 "|" $6 "|" $8 "|" p}' "$f")
  s=$(sed -n 's/^slices: \([0-9.]*\) µs CPU per heartbeat in all; \([0-9]*\) of \([0-9]*\) slices throttled; \(at quota: \)\{0,1\}\([^(]*\).*$/\1|\2 of \3|\5/p' "$f")
  echo "$t|$s"
}
echo
echo "## Summary (server slices $slice cores, database slice $dbslice; CPU = all slices of the run, load generator excluded)"
echo
echo "| setup | slices | heartbeats/s | p50 | p99 | persistence | CPU/heartbeat | slices throttled | slices at quota (bottleneck) |"
echo "|---|---:|---:|---:|---:|---|---:|---:|---|"
for r in "sqlite|SQLite, 1 server|$slice" "pg1|PostgreSQL, 1 replica|$dbslice + $slice" "pg2|PostgreSQL, 2 replicas|$dbslice + 2 × $slice"; do
  IFS='|' read -r id name n <<<"$r"
  IFS='|' read -r rate p50 p99 ok us thr full <<<"$(row "$id")"
  echo "| $name | $n | ${rate:-n/a} | ${p50:-n/a} | ${p99:-n/a} | ${ok:-n/a} | ${us:-n/a} µs | ${thr:-n/a} | ${full:-n/a} |"
done
sq=$(row sqlite | cut -d'|' -f1)
p2=$(row pg2 | cut -d'|' -f1)
echo
if [[ -n $sq && -n $p2 ]]; then
  awk -v a="$p2" -v b="$sq" 'BEGIN { r = a / b; printf "PostgreSQL 2 replicas / SQLite 1 server = %.2f× (goal ≥ 1.5×: %s)\n", r, (r >= 1.5 ? "met" : "not met") }'
fi
(( failed == 0 )) || die "at least one run failed (see above)"
