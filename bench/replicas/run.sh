#!/usr/bin/env bash
# bench/replicas/run.sh — heartbeat ingest on SQLite (one server) vs
# PostgreSQL (one and two server replicas), same load generator
# (bench/heartbeat), same machine count, one run.
#
# PostgreSQL runs durably (fsync=on, synchronous_commit=on), like SQLite's
# synchronous=FULL: an acknowledged heartbeat survives power loss on both.
#
# Usage: bench/replicas/run.sh [machines] [duration] [concurrency]
set -euo pipefail
machines=${1:-100000}
duration=${2:-20s}
concurrency=${3:-64}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${SLIPWAY_PG_BIN:-/usr/lib/postgresql/15/bin}
[[ -x $bin/postgres ]] || { echo "PostgreSQL 15 not found in $bin (scripts/tools.sh postgres)" >&2; exit 1; }

work=$(mktemp -d /tmp/slipway-replicas-XXXXXX)
as_pg=()
if [[ $(id -u) == 0 ]]; then chown postgres: "$work"; as_pg=(runuser -u postgres --); fi
cleanup() {
  # Stop the server by the PID in its postmaster.pid (runuser does not pass signals on).
  if [[ -f $work/data/postmaster.pid ]]; then
    kill -INT "$(head -1 "$work/data/postmaster.pid")" 2>/dev/null || true
    for _ in $(seq 100); do [[ -f $work/data/postmaster.pid ]] || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$bin/initdb" -D "$work/data" -U slipway --auth=trust -E UTF8 --locale=C --no-instructions >/dev/null
"${as_pg[@]}" "$bin/postgres" -D "$work/data" -h 127.0.0.1 -p "$port" -k "$work" \
  -c fsync=on -c synchronous_commit=on -c shared_buffers=256MB -c max_connections=200 \
  -c log_min_messages=fatal >"$work/pg.log" 2>&1 &
for _ in $(seq 100); do "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
url() { echo "postgres://slipway@127.0.0.1:$port/$1?sslmode=disable"; }
for db in one two; do "$bin/psql" -q -h 127.0.0.1 -p "$port" -U slipway -d postgres -c "CREATE DATABASE $db"; done

cd "$root"
go build -o "$work/heartbeat" ./bench/heartbeat
echo "# heartbeat ingest: $machines machines, $duration per run, $concurrency clients, $(nproc) cores"
echo "## SQLite, one server (and the no-storage baseline)"
"$work/heartbeat" -mode both -machines "$machines" -duration "$duration" -concurrency "$concurrency"
echo "## PostgreSQL, one server"
"$work/heartbeat" -mode server -database-url "$(url one)" -replicas 1 -machines "$machines" -duration "$duration" -concurrency "$concurrency"
echo "## PostgreSQL, two server replicas (round-robin, no sticky sessions)"
"$work/heartbeat" -mode server -database-url "$(url two)" -replicas 2 -machines "$machines" -duration "$duration" -concurrency "$concurrency"
echo "## PostgreSQL, two server replicas, batches committed at once (SLIPWAY_HEARTBEAT_BATCH_WAIT=0)"
"$bin/psql" -q -h 127.0.0.1 -p "$port" -U slipway -d postgres -c "CREATE DATABASE three"
"$work/heartbeat" -mode server -database-url "$(url three)" -replicas 2 -batch-wait -1ns -machines "$machines" -duration "$duration" -concurrency "$concurrency"
