#!/usr/bin/env bash
# The HTTP benchmarks (docs/benchmarks.md), in one run, on this machine:
#   1. import 1M synthetic users (3M entries) with the CLI: time, records/s,
#      the server's peak and final RSS;
#   2. restart on that data dir: time until it answers; disk bytes per entry;
#   3. suggest (limit 10, 50 connections) against typeahead, a minimal axum
#      handler with a body of the same size (the ceiling), and the textbook Go
#      design when Go is installed; requests/s, p50/p99 and the ratios;
#   4. a mixed run: the same suggest load plus ~1,000 adds/s;
#   5. acknowledged writes/s with 1, 10 and 50 connections, single adds and
#      batches of 100.
# Server and load generator are pinned to different cores (SERVER_CPU,
# CLIENT_CPU). Needs wrk (installed with apt-get when missing and root).
# NO_BUILD=1 and GO_BIN=path run prebuilt binaries on a machine without cargo
# or Go; WRITES=0 skips step 5.
#
#   scripts/bench-http.sh            # USERS=1000000 DURATION=10s by default
set -euo pipefail
GO_BIN=${GO_BIN:+$(realpath "$GO_BIN")} # before the cd: a path relative to the caller
cd "$(dirname "$0")/.."

USERS=${USERS:-1000000}
DURATION=${DURATION:-10s}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT=${OUT:-target/bench-http}
PORT=${PORT:-7790}
CEIL_PORT=$((PORT + 1))
GO_PORT=$((PORT + 2))
BASE=http://127.0.0.1:$PORT

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else echo "install wrk" >&2; exit 1; fi
fi
# NO_BUILD=1 runs binaries already in target/release (a machine without cargo).
[ -n "${NO_BUILD:-}" ] || cargo build --release --bins --examples -q
mkdir -p "$OUT"
if [ ! -s "$OUT/users.csv" ] || [ "$(($(wc -l < "$OUT/users.csv") - 1))" != "$USERS" ]; then
  target/release/typeahead gen-users "$USERS" "$OUT" --queries 100000
fi
export QUERIES=$OUT/queries.txt LASTNAMES=data/last.txt

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_up() { # url
  for _ in $(seq 1 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done
  echo "server at $1 did not come up" >&2; return 1
}
start_server() {
  RUST_LOG=warn taskset -c "$SERVER_CPU" target/release/typeahead serve \
    --addr "127.0.0.1:$PORT" --data-dir "$OUT/data" >"$OUT/server.log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
}
rss_kb() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }
wrk_run() { # label, wrk args...
  local label=$1; shift
  taskset -c "$CLIENT_CPU" wrk --latency "$@" >"$OUT/wrk-$label.txt" 2>&1
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' "$OUT/wrk-$label.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$OUT/wrk-$label.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk-$label.txt")
  printf '%-34s %12s req/s   p50 %9s   p99 %9s\n' "$label" "$rps" "$p50" "$p99"
  eval "RPS_${label//[^a-zA-Z0-9]/_}=$rps"
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== 1. import $USERS users"
rm -rf "$OUT/data"
start_server
wait_up "$BASE/healthz"
start=$(date +%s.%N)
target/release/typeahead import "$OUT/users.csv" --trie users --key-columns first,last,username \
  --value-column id --server "$BASE" 2>/dev/null | tail -1
end=$(date +%s.%N)
entries=$(curl -s "$BASE/v1/tries/users" | sed 's/.*"entries":\([0-9]*\).*/\1/')
echo "import: $(echo "$end - $start" | bc) s wall, $entries entries;" \
  "server peak RSS $(($(rss_kb "$SERVER" VmHWM) / 1024)) MiB, RSS after $(($(rss_kb "$SERVER" VmRSS) / 1024)) MiB"

echo "== 2. restart on the data dir"
kill -TERM "$SERVER"; wait "$SERVER" || true
log_bytes=$(stat -c %s "$OUT/data/typeahead.log")
start=$(date +%s.%N)
start_server
wait_up "$BASE/healthz"
end=$(date +%s.%N)
echo "restart: $(echo "$end - $start" | bc) s until /healthz answers; log $log_bytes bytes = $(echo "scale=1; $log_bytes / $entries" | bc) bytes/entry;" \
  "RSS $(($(rss_kb "$SERVER" VmRSS) / 1024)) MiB"

echo "== 3. suggest, limit 10, 50 connections (server on cpu $SERVER_CPU, wrk on cpu $CLIENT_CPU)"
echo "   rounds of $DURATION alternate between the contenders (this machine's speed drifts); medians reported"
size=$(head -200 "$QUERIES" | while read -r q; do
  curl -s "$BASE/v1/tries/users/suggest?q=$q&limit=10" | wc -c; done | awk '{s+=$1} END {printf "%d", s/NR}')
taskset -c "$SERVER_CPU" target/release/examples/ceiling "127.0.0.1:$CEIL_PORT" "$size" 2>/dev/null &
CEILING=$!
PIDS+=("$CEILING")
wait_up "http://127.0.0.1:$CEIL_PORT/"
GO_SEED=${GO_SEED:-bench/go-seed}
HAVE_GO=""
# GO_BIN: a Go design binary built elsewhere (a machine without Go).
if [ -n "${GO_BIN:-}" ] || { command -v go >/dev/null && [ -d "$GO_SEED" ]; }; then
  if [ -n "${GO_BIN:-}" ]; then cp "$GO_BIN" "$OUT/goseed"; else
    dest=$(cd "$OUT" && pwd)/goseed
    (cd "$GO_SEED" && go build -o "$dest" .)
  fi
  taskset -c "$SERVER_CPU" "$OUT/goseed" -csv "$OUT/users.csv" -addr "127.0.0.1:$GO_PORT" >"$OUT/go.log" 2>&1 &
  GOPID=$!
  PIDS+=("$GOPID")
  for _ in $(seq 1 1200); do
    if curl -sf "http://127.0.0.1:$GO_PORT/suggest?q=a&limit=1" >/dev/null; then HAVE_GO=1; break; fi
    sleep 0.1
  done
  [ -n "$HAVE_GO" ] || echo "(the Go design did not come up; see $OUT/go.log)"
fi
ROUNDS=${ROUNDS:-3}
# All contenders share the server core, so the ones not being measured are
# stopped (SIGSTOP) during a round: an idle Go process still collects and
# scavenges its heap after its own round, which would land as multi-ms
# stalls in the next round's p99, whoever ran it.
CONTENDERS=("$SERVER" "$CEILING")
[ -n "$HAVE_GO" ] && CONTENDERS+=("$GOPID")
only() { # pid: continue it, stop the others
  for p in "${CONTENDERS[@]}"; do [ "$p" = "$1" ] || kill -STOP "$p" 2>/dev/null || true; done
  kill -CONT "$1" 2>/dev/null || true
}
for r in $(seq 1 "$ROUNDS"); do
  only "$SERVER"
  wrk_run "typeahead_$r" -t1 -c50 -d"$DURATION" -s scripts/wrk/suggest.lua "$BASE"
  only "$CEILING"
  wrk_run "ceiling_$r" -t1 -c50 -d"$DURATION" -s scripts/wrk/suggest.lua "http://127.0.0.1:$CEIL_PORT"
  if [ -n "$HAVE_GO" ]; then
    only "$GOPID"
    SUGGEST_PATH=/suggest wrk_run "go_$r" -t1 -c50 -d"$DURATION" -s scripts/wrk/suggest.lua "http://127.0.0.1:$GO_PORT"
  fi
done
for p in "${CONTENDERS[@]}"; do kill -CONT "$p" 2>/dev/null || true; done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
T=(); C=(); G=()
for r in $(seq 1 "$ROUNDS"); do
  eval "T+=(\$RPS_typeahead_$r)"; eval "C+=(\$RPS_ceiling_$r)"
  [ -n "$HAVE_GO" ] && eval "G+=(\$RPS_go_$r)"
done
MT=$(median "${T[@]}"); MC=$(median "${C[@]}")
echo "median req/s: typeahead $MT, ceiling ($size-byte body) $MC; typeahead / ceiling: $(echo "scale=2; $MT / $MC" | bc)"
if [ -n "$HAVE_GO" ]; then
  MG=$(median "${G[@]}")
  echo "median req/s: Go design $MG; typeahead / Go design: $(echo "scale=2; $MT / $MG" | bc)"
  kill -9 "$GOPID"
  wait "$GOPID" 2>/dev/null || true # its exit frees its heap on the server core
else
  echo "(Go not installed: the Go design was not measured; apt-get install golang-go and set GO_SEED)"
fi
kill -9 "$CEILING"
wait "$CEILING" 2>/dev/null || true

echo "== 4. mixed: suggest as above + ~1,000 adds/s (20 connections, 19 ms apart)"
DELAY_MS=19 taskset -c "$CLIENT_CPU" wrk -t1 -c20 -d"$DURATION" --latency -s scripts/wrk/add.lua "$BASE" \
  >"$OUT/wrk-mixed-adds.txt" 2>&1 &
ADDS=$!
wrk_run mixed_suggest -t1 -c50 -d"$DURATION" -s scripts/wrk/suggest.lua "$BASE"
wait "$ADDS"
echo "mixed adds: $(awk '/^Requests\/sec/ {print $2}' "$OUT/wrk-mixed-adds.txt") adds/s," \
  "p99 $(awk '$1 == "99%" {print $2}' "$OUT/wrk-mixed-adds.txt")"

[ "${WRITES:-1}" = 0 ] && exit 0 # WRITES=0 skips step 5
echo "== 5. acknowledged writes (each 2xx is durable: fdatasync before the answer)"
for c in 1 10 50; do
  wrk_run "adds_c$c" -t1 -c"$c" -d"$DURATION" -s scripts/wrk/add.lua "$BASE"
done
for c in 1 10 50; do
  BATCH=100 wrk_run "batch100_c$c" -t1 -c"$c" -d"$DURATION" -s scripts/wrk/add.lua "$BASE"
done
echo "(batch rows: requests/s; entries/s is 100x)"
