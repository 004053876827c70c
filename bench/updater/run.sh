#!/usr/bin/env bash
# Update-check benchmark (issue 5): wrk on loopback, 10,000 distinct
# machine ids, 64 connections, against
#   slipway - the real /v1/updates endpoint (rollout decision included),
#   nginx   - nginx serving the equivalent static latest.json with sendfile,
#   fixed   - a minimal Go net/http server returning fixed bytes.
# Usage: bench/updater/run.sh [duration per run, default 10s] [rounds, default 3]
# The three servers are measured in interleaved rounds (the box is shared,
# so load drifts); the table shows each server's median round.
# Needs wrk and nginx (scripts/tools.sh installs both via apt).
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-10s}
ROUNDS=${2:-3}
CONNS=64
THREADS=2
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -f $WORK/nginx/nginx.pid ]]; then kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true; fi
  sleep 0.3
  rm -rf "$WORK"
}
trap cleanup EXIT

WRK=$(command -v wrk || echo "$HOME/.cache/slipway/bin/wrk")
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $WRK ]] || { echo "wrk not found (scripts/tools.sh)"; exit 1; }
[[ -x $NGINX ]] || { echo "nginx not found (scripts/tools.sh)"; exit 1; }

go build -o "$WORK/updater-bench" ./bench/updater

start() { # mode -> prints addr
  "$WORK/updater-bench" -mode "$1" -dir "$WORK" >"$WORK/$1.addr" 2>"$WORK/$1.log" &
  PIDS+=($!)
  for _ in $(seq 100); do [[ -s $WORK/$1.addr ]] && break; sleep 0.1; done
  head -1 "$WORK/$1.addr"
}

SLIPWAY=$(start slipway)
FIXED=$(start fixed)

# nginx on a free loopback port with its own prefix and config.
NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/nginx/logs" "$WORK/www"
chmod 755 "$WORK" "$WORK/www" # nginx workers run unprivileged
cp "$WORK/latest.json" "$WORK/www/latest.json"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp;
  scgi_temp_path $WORK/nginx/tmp;
  server {
    listen 127.0.0.1:$NPORT;
    root $WORK/www;
    location / { default_type application/json; rewrite ^ /latest.json break; }
  }
}
CONF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
for _ in $(seq 50); do [[ -s $WORK/nginx/nginx.pid ]] && break; sleep 0.1; done

check() { curl -fsS -o /dev/null -w '%{http_code}' "$1/v1/updates/agent/stable?os=linux&arch=amd64&current=1.0.0&machine=m-1"; }
for u in "http://$SLIPWAY" "http://127.0.0.1:$NPORT" "http://$FIXED"; do
  code=$(check "$u"); [[ $code == 200 || $code == 204 ]] || { echo "$u answered $code"; exit 1; }
done

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d" " -f1-3 /proc/loadavg); wrk -t$THREADS -c$CONNS -d$DUR --latency -s bench/updater/machines.lua, $ROUNDS interleaved rounds"
measure() { # id url round
  "$WRK" -t$THREADS -c$CONNS -d"$DUR" --latency -s bench/updater/machines.lua "$2" >"$WORK/$1.$3.wrk"
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$1.$3.wrk")
  p50=$(awk '$1=="50%" {print $2}' "$WORK/$1.$3.wrk")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/$1.$3.wrk")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/$1.$3.wrk")
  echo "$rps $p50 $p99 ${non2xx:-0}" >>"$WORK/$1.rounds"
  echo "  round $3 $1: $rps req/s p50 $p50 p99 $p99" >&2
}
for r in $(seq "$ROUNDS"); do
  measure slipway "http://$SLIPWAY" "$r"
  measure nginx "http://127.0.0.1:$NPORT" "$r"
  measure fixed "http://$FIXED" "$r"
done
median() { sort -n "$WORK/$1.rounds" | awk -v n="$ROUNDS" 'NR==int((n+1)/2)'; }
echo "| server | req/s | p50 | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|"
for id in slipway nginx fixed; do
  label=$(case $id in slipway) echo "slipway /v1/updates (dynamic)";; nginx) echo "nginx static latest.json (sendfile)";; fixed) echo "Go net/http fixed bytes";; esac)
  read -r rps p50 p99 non <<<"$(median $id)"
  printf '| %-36s | %10s | %8s | %8s | %s |\n' "$label" "$rps" "$p50" "$p99" "$non"
done
read -r s _ <<<"$(median slipway)"
read -r f _ <<<"$(median fixed)"
awk -v s="$s" -v f="$f" 'BEGIN { printf "\nslipway / fixed-bytes Go server = %.0f%% (median rounds)\n", 100*s/f }'
