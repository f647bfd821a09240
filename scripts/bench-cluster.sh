#!/usr/bin/env bash
# The cluster benchmarks (docs/deploy.md, "Measured"), on this machine,
# against a private PostgreSQL (scripts/pg-local.sh):
#   1. import USERS users (3 pairs each) through the writer with the CLI, then
#      a second node joins: time until it answers, holding everything;
#   2. acknowledged single adds/s at 1, 10 and 50 connections on the writer,
#      and at 50 through the follower (forwarded to the writer);
#   3. follower lag at ~1,000 writes/s: wrk adds at a fixed rate on the writer
#      while examples/lag_probe writes and reads back through the follower;
#   4. failover, three times: kill -9 the writer, time until a write sent to
#      the other node is acknowledged; the killed node then rejoins;
#   5. suggest on a follower against a standalone node holding the same
#      users, alternating rounds; medians and the ratio.
# Nodes are pinned to SERVER_CPU and wrk to CLIENT_CPU; PostgreSQL runs
# where the scheduler puts it. Needs wrk and PostgreSQL (initdb, pg_ctl).
#
#   scripts/bench-cluster.sh            # USERS=1000000 DURATION=10s by default
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

USERS=${USERS:-1000000}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT=${OUT:-target/bench-cluster}
PORT=${PORT:-7800}
URL_A=http://127.0.0.1:$PORT
URL_B=http://127.0.0.1:$((PORT + 1))
URL_S=http://127.0.0.1:$((PORT + 2))

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else echo "install wrk" >&2; exit 1; fi
fi
[ -n "${NO_BUILD:-}" ] || cargo build --release --bins --examples -q
REL=${CARGO_TARGET_DIR:-target}/release
mkdir -p "$OUT"
if [ ! -s "$OUT/users.csv" ] || [ "$(($(wc -l < "$OUT/users.csv") - 1))" != "$USERS" ]; then
  "$REL/typeahead" gen-users "$USERS" "$OUT" --queries 100000
fi
export QUERIES=$OUT/queries.txt LASTNAMES=data/last.txt

eval "$(scripts/pg-local.sh start)"
PG=$TYPEAHEAD_TEST_POSTGRES
declare -A PID
cleanup() {
  for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  scripts/pg-local.sh stop "$PG_LOCAL_DIR"
}
trap cleanup EXIT

url_of() { case $1 in a) echo "$URL_A" ;; b) echo "$URL_B" ;; s) echo "$URL_S" ;; esac; }
start() { # name (a, b: cluster nodes; s: standalone)
  local port=${PORT}
  case $1 in b) port=$((PORT + 1)) ;; s) port=$((PORT + 2)) ;; esac
  local cluster=(--postgres "$PG")
  [ "$1" = s ] && cluster=()
  rm -rf "$OUT/data-$1"
  RUST_LOG=warn taskset -c "$SERVER_CPU" "$REL/typeahead" serve "${cluster[@]}" \
    --addr "127.0.0.1:$port" --data-dir "$OUT/data-$1" >>"$OUT/$1.log" 2>&1 &
  PID[$1]=$!
}
role() { curl -s "$(url_of "$1")/v1/cluster" | sed 's/.*"role":"\([a-z]*\)".*/\1/'; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }
import() { # url
  "$REL/typeahead" import "$OUT/users.csv" --trie users --key-columns first,last,username \
    --value-column id --server "$1" 2>/dev/null | tail -1
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d" " -f1-3 /proc/loadavg)"
echo "== 1. import $USERS users through the writer, then a node joins"
start a
wait_up "$URL_A/healthz"
until [ "$(role a)" = writer ]; do sleep 0.05; done
t0=$(now)
import "$URL_A"
t1=$(now)
entries=$(curl -s "$URL_A/v1/tries/users" | sed 's/.*"entries":\([0-9]*\).*/\1/')
echo "import: $(secs "$t0" "$t1") s wall, $entries entries"
t0=$(now)
start b
wait_up "$URL_B/healthz"
t1=$(now)
joined=$(curl -s "$URL_B/v1/tries/users" | sed 's/.*"entries":\([0-9]*\).*/\1/')
echo "join: $(secs "$t0" "$t1") s until the new node answers, holding $joined entries;" \
  "RSS $(($(awk '/^VmRSS:/ {print $2}' "/proc/${PID[b]}/status") / 1024)) MiB"

echo "== 2. acknowledged single adds (durable in PostgreSQL before the answer)"
for c in 1 10 50; do
  wrk_run "adds_writer_c$c" -t1 -c"$c" -d"$DURATION" -s scripts/wrk/add.lua "$URL_A"
done
wrk_run "adds_via_follower_c50" -t1 -c50 -d"$DURATION" -s scripts/wrk/add.lua "$URL_B"

echo "== 3. follower lag at ~1,000 writes/s (20 connections, 19 ms apart, plus the probe's 100/s)"
DELAY_MS=19 taskset -c "$CLIENT_CPU" wrk -t1 -c20 -d60s --latency -s scripts/wrk/add.lua "$URL_A" \
  >"$OUT/wrk-lag-adds.txt" 2>&1 &
LOAD=$!
taskset -c "$CLIENT_CPU" "$REL/examples/lag_probe" "$URL_A" "$URL_B" 3000 10
kill "$LOAD" 2>/dev/null || true
wait "$LOAD" 2>/dev/null || true

echo "== 4. failover: kill -9 the writer, time until the other node acknowledges a write"
FAILS=()
for r in 1 2 3; do
  if [ "$(role a)" = writer ]; then w=a; f=b; else w=b; f=a; fi
  kill -9 "${PID[$w]}"
  t0=$(now)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$(url_of $f)/v1/tries/failover/entries" \
    -H 'content-type: application/json' -d "{\"entries\":[{\"key\":\"r$r\",\"value\":$r}]}")" = 200 ]; do :; done
  t1=$(now)
  FAILS+=("$(secs "$t0" "$t1")")
  echo "failover $r: ${FAILS[-1]} s (the writer was $w)"
  start "$w"
  wait_up "$(url_of $w)/healthz"
done
echo "failover: median $(median "${FAILS[@]}") s"

echo "== 5. suggest on a follower against a standalone node with the same users"
start s
wait_up "$URL_S/healthz"
import "$URL_S" >/dev/null
if [ "$(role a)" = writer ]; then f=b; else f=a; fi
echo "follower: $f"
F=() S=()
for r in $(seq 1 "$ROUNDS"); do
  wrk_run "suggest_follower_$r" -t1 -c50 -d"$DURATION" -s scripts/wrk/suggest.lua "$(url_of $f)"
  F+=("$(eval echo "\$RPS_suggest_follower_$r")")
  wrk_run "suggest_standalone_$r" -t1 -c50 -d"$DURATION" -s scripts/wrk/suggest.lua "$URL_S"
  S+=("$(eval echo "\$RPS_suggest_standalone_$r")")
done
mf=$(median "${F[@]}") ms=$(median "${S[@]}")
echo "suggest: follower median $mf req/s, standalone median $ms req/s, ratio $(echo "scale=2; $mf / $ms" | bc)"
