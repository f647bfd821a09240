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
#      batches of 100; then single adds against Redis with appendonly yes and
#      appendfsync always (SADD), by one load generator, rounds alternating,
#      and at 50 connections the ceiling answering the same POST (what any
#      HTTP/1.1 server can do on the server's core);
#   6. ranked: the same users loaded with their follower counts as scores,
#      order=score suggest against the ceiling (same answer size) for three
#      prefix classes (the query mix, one character, four or more), and
#      against RediSearch's FT.SUGGET over the same pairs and scores when
#      redis-server and its RediSearch module are installed, both measured by
#      one load generator (examples/loadgen.rs); a table per prefix class;
#   7. typos: order=score&fuzzy=1 over the prefixes of four characters or
#      more with one random typo each, against RediSearch's FT.SUGGET ...
#      FUZZY on the same prefixes and pairs, by the same load generator.
# Server and load generator are pinned to different cores (SERVER_CPU,
# CLIENT_CPU). Needs wrk (installed with apt-get when missing and root).
# NO_BUILD=1 and GO_BIN=path run prebuilt binaries on a machine without cargo
# or Go; WRITES=0 skips step 5, RANKED=0 steps 6 and 7, FUZZY=0 step 7,
# REDIS=0 Redis in steps 5, 6 and 7; RANKED_ONLY=1 runs steps 1, 2, 6 and 7;
# DURABLE_ONLY=1 only step 5's comparison with Redis, on an empty server;
# FUZZY_ONLY=1 runs steps 1, 2, the loading of step 6, and 7.
#
#   scripts/bench-http.sh            # USERS=1000000 DURATION=10s by default
set -euo pipefail
GO_BIN=${GO_BIN:+$(realpath "$GO_BIN")} # before the cd: a path relative to the caller
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

USERS=${USERS:-1000000}
DURATION=${DURATION:-10s}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT=${OUT:-target/bench-http}
PORT=${PORT:-7790}
CEIL_PORT=$((PORT + 1))
GO_PORT=$((PORT + 2))
REDIS_PORT=$((PORT + 3))
BASE=http://127.0.0.1:$PORT

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else echo "install wrk" >&2; exit 1; fi
fi
# NO_BUILD=1 runs binaries already built (a machine without cargo).
[ -n "${NO_BUILD:-}" ] || cargo build --release --bins --examples -q
REL=${CARGO_TARGET_DIR:-target}/release # where cargo put them
mkdir -p "$OUT"
if [ ! -s "$OUT/users.csv" ] || [ "$(($(wc -l < "$OUT/users.csv") - 1))" != "$USERS" ]; then
  "$REL/typeahead" gen-users "$USERS" "$OUT" --queries 100000
fi
export QUERIES=$OUT/queries.txt LASTNAMES=data/last.txt

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start_server() {
  # db and store log what `settle` waits for (checkpoints, repacks).
  RUST_LOG=warn,typeahead::db=info,typeahead::store=info taskset -c "$SERVER_CPU" "$REL/typeahead" serve \
    --addr "127.0.0.1:$PORT" --data-dir "$OUT/data" >"$OUT/server.log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
}
rss_kb() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }
# The users trie's engine bytes and the server's RSS, per entry.
memory() { # when
  local d
  d=$(curl -s "$BASE/v1/tries/users")
  local b e r
  b=$(echo "$d" | sed 's/.*"bytes":\([0-9]*\).*/\1/')
  e=$(echo "$d" | sed 's/.*"entries":\([0-9]*\).*/\1/')
  r=$(($(rss_kb "$SERVER" VmRSS) * 1024))
  echo "memory $1: $e entries; engine $(echo "scale=1; $b / $e" | bc) bytes/entry;" \
    "server RSS $((r >> 20)) MiB = $(echo "scale=1; $r / $e" | bc) bytes/entry (peak so far $(($(rss_kb "$SERVER" VmHWM) >> 10)) MiB)"
}
ROUNDS=${ROUNDS:-3}
# All contenders share the server core, so the ones not being measured are
# stopped (SIGSTOP) during a round: an idle Go process still collects and
# scavenges its heap after its own round, which would land as multi-ms
# stalls in the next round's p99, whoever ran it.
CONTENDERS=()
only() { # pid: continue it, stop the others (of CONTENDERS)
  for p in "${CONTENDERS[@]}"; do [ "$p" = "$1" ] || kill -STOP "$p" 2>/dev/null || true; done
  kill -CONT "$1" 2>/dev/null || true
}

# The one load generator for both sides of a comparison: like wrk -t1 -c50
# (GEN_CONNS connections), without Lua.
gen_run() { # label, http|resp, port, queries, template
  local label=$1
  taskset -c "$CLIENT_CPU" "$REL"/examples/loadgen "$2" "127.0.0.1:$3" "${GEN_CONNS:-50}" "${DURATION%s}" "$4" "$5" \
    >"$OUT/gen-$label.txt" 2>&1
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' "$OUT/gen-$label.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$OUT/gen-$label.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$OUT/gen-$label.txt")
  printf '%-34s %12s req/s   p50 %9s   p99 %9s   (%s)\n' "$label" "$rps" "$p50" "$p99" \
    "$(head -1 "$OUT/gen-$label.txt")"
  eval "RPS_${label//[^a-zA-Z0-9]/_}=$rps"
}
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d" " -f1-3 /proc/loadavg)"
if [ -n "${DURABLE_ONLY:-}" ]; then # only step 5's comparison with Redis, on an empty server
  rm -rf "$OUT/data"
  start_server
  wait_up "$BASE/healthz"
  CONTENDERS=("$SERVER")
else
echo "== 1. import $USERS users"
rm -rf "$OUT/data"
start_server
wait_up "$BASE/healthz"
start=$(date +%s.%N)
"$REL/typeahead" import "$OUT/users.csv" --trie users --key-columns first,last,username \
  --value-column id --server "$BASE" 2>/dev/null | tail -1
end=$(date +%s.%N)
entries=$(curl -s "$BASE/v1/tries/users" | sed 's/.*"entries":\([0-9]*\).*/\1/')
echo "import: $(echo "$end - $start" | bc) s wall, $entries entries;" \
  "server peak RSS $(($(rss_kb "$SERVER" VmHWM) / 1024)) MiB, RSS at the end $(($(rss_kb "$SERVER" VmRSS) / 1024)) MiB"
# Once the writes pause the server writes a checkpoint and repacks the
# trie (docs/design.md): wait for both, so that step 2 restarts from the
# checkpoint and the RSS below is what the server settles at.
settle() { # [need]: a log line that must appear first
  sleep 2 # the writer waits half a second of quiet before it starts
  for _ in $(seq 1 600); do
    if { [ -z "${1:-}" ] || grep -q "$1" "$OUT/server.log"; } &&
      [ "$(grep -c 'rewriting the log' "$OUT/server.log")" = "$(grep -c 'compacted the log in the background' "$OUT/server.log")" ] &&
      [ "$(grep -c 'repacked the tries' "$OUT/server.log")" = "$(grep -c 'repacking the tries' "$OUT/server.log")" ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "(the server did not settle in 60 s)"
}
settle "repacked the tries"
memory "after the import"

echo "== 2. restart on the data dir"
kill -TERM "$SERVER"; wait "$SERVER" || true
log_bytes=$(stat -c %s "$OUT/data/typeahead.log")
start=$(date +%s.%N)
start_server
wait_up "$BASE/healthz"
end=$(date +%s.%N)
echo "restart: $(echo "$end - $start" | bc) s until /healthz answers; log $log_bytes bytes = $(echo "scale=1; $log_bytes / $entries" | bc) bytes/entry;" \
  "peak RSS $(($(rss_kb "$SERVER" VmHWM) / 1024)) MiB"
settle "repacked the tries"
memory "after the restart, settled"

fi # DURABLE_ONLY
[ -n "${FUZZY_ONLY:-}" ] && RANKED_ONLY=1
if [ -z "${RANKED_ONLY:-}" ]; then
if [ -z "${DURABLE_ONLY:-}" ]; then
echo "== 3. suggest, limit 10, 50 connections (server on cpu $SERVER_CPU, wrk on cpu $CLIENT_CPU)"
echo "   rounds of $DURATION alternate between the contenders (this machine's speed drifts); medians reported"
size=$(head -200 "$QUERIES" | while read -r q; do
  curl -s "$BASE/v1/tries/users/suggest?q=$q&limit=10" | wc -c; done | awk '{s+=$1} END {printf "%d", s/NR}')
taskset -c "$SERVER_CPU" "$REL"/examples/ceiling "127.0.0.1:$CEIL_PORT" "$size" 2>/dev/null &
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
CONTENDERS=("$SERVER" "$CEILING")
[ -n "$HAVE_GO" ] && CONTENDERS+=("$GOPID")
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

echo "== 4. mixed: suggest as above + ~1,000 adds/s (20 connections, 19 ms apart), $ROUNDS rounds"
for r in $(seq 1 "$ROUNDS"); do
  DELAY_MS=19 taskset -c "$CLIENT_CPU" wrk -t1 -c20 -d"$DURATION" --latency -s scripts/wrk/add.lua "$BASE" \
    >"$OUT/wrk-mixed-adds-$r.txt" 2>&1 &
  ADDS=$!
  wrk_run "mixed_suggest_$r" -t1 -c50 -d"$DURATION" -s scripts/wrk/suggest.lua "$BASE"
  wait "$ADDS"
  echo "mixed adds, round $r: $(awk '/^Requests\/sec/ {print $2}' "$OUT/wrk-mixed-adds-$r.txt") adds/s," \
    "p99 $(awk '$1 == "99%" {print $2}' "$OUT/wrk-mixed-adds-$r.txt")"
done

fi # steps 3-4 (not with DURABLE_ONLY)
if [ "${WRITES:-1}" != 0 ]; then # WRITES=0 skips step 5
echo "== 5. acknowledged writes (each 2xx is durable: fdatasync before the answer)"
if [ -z "${DURABLE_ONLY:-}" ]; then
for c in 1 10 50; do
  wrk_run "adds_c$c" -t1 -c"$c" -d"$DURATION" -s scripts/wrk/add.lua "$BASE"
done
for c in 1 10 50; do
  BATCH=100 wrk_run "batch100_c$c" -t1 -c"$c" -d"$DURATION" -s scripts/wrk/add.lua "$BASE"
done
echo "(batch rows: requests/s; entries/s is 100x)"
fi # the wrk rounds of step 5
# The reference with the same promise: Redis with appendonly yes and
# appendfsync always (an fsync before each answer, group commit of what
# arrived meanwhile), by the same load generator as typeahead's single adds,
# rounds alternating. Both add a unique member under a random census last
# name: typeahead a (name, n) pair, Redis SADD name n (a set per name).
if [ "${REDIS:-1}" != 0 ] && command -v redis-server >/dev/null; then
  AOF_PORT=$((PORT + 4))
  rm -rf "$OUT/redis-aof" && mkdir -p "$OUT/redis-aof"
  taskset -c "$SERVER_CPU" redis-server --bind 127.0.0.1 --port "$AOF_PORT" --save '' \
    --appendonly yes --appendfsync always --dir "$(cd "$OUT/redis-aof" && pwd)" >"$OUT/redis-aof.log" 2>&1 &
  AOF_PID=$!
  PIDS+=("$AOF_PID")
  for _ in $(seq 1 200); do redis-cli -p "$AOF_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  CONTENDERS+=("$AOF_PID")
  # The ceiling again, for the same POST: a handler that reads nothing and
  # answers a body the size of typeahead's. What it does per second bounds
  # any HTTP/1.1 server on this core, whatever it does with the write.
  answer='{"added":1,"updated":0,"unchanged":0,"existing":0}'
  taskset -c "$SERVER_CPU" "$REL"/examples/ceiling "127.0.0.1:$CEIL_PORT" "${#answer}" 2>/dev/null &
  CEILING=$!
  PIDS+=("$CEILING")
  wait_up "http://127.0.0.1:$CEIL_PORT/"
  CONTENDERS+=("$CEILING")
  cut -f1 data/last.txt | tr 'A-Z' 'a-z' >"$OUT/lastnames.txt"
  echo "-- single durable writes, typeahead POST entries against Redis SADD (appendfsync always), same load generator"
  for c in 1 10 50; do
    T=() R=() C=()
    for r in $(seq 1 "$ROUNDS"); do
      only "$SERVER"
      GEN_CONNS=$c gen_run "durable_ours_c${c}_$r" http "$PORT" "$OUT/lastnames.txt" \
        'POST /v1/tries/durable/entries {"entries":[{"key":"{q}","value":{n}}]}'
      T+=("$(eval echo "\$RPS_durable_ours_c${c}_$r")")
      only "$AOF_PID"
      GEN_CONNS=$c gen_run "durable_redis_c${c}_$r" resp "$AOF_PORT" "$OUT/lastnames.txt" 'SADD {q} {n}'
      R+=("$(eval echo "\$RPS_durable_redis_c${c}_$r")")
      if [ "$c" = 50 ]; then
        only "$CEILING"
        GEN_CONNS=$c gen_run "durable_ceiling_c${c}_$r" http "$CEIL_PORT" "$OUT/lastnames.txt" \
          'POST /v1/tries/durable/entries {"entries":[{"key":"{q}","value":{n}}]}'
        C+=("$(eval echo "\$RPS_durable_ceiling_c${c}_$r")")
      fi
    done
    mt=$(median "${T[@]}") mr=$(median "${R[@]}")
    echo "durable single writes, $c connections: typeahead $mt req/s, Redis appendfsync always $mr req/s," \
      "ratio $(ratio "$mt" "$mr") (medians of $ROUNDS rounds)"
    if [ "$c" = 50 ]; then
      mc=$(median "${C[@]}")
      echo "the ceiling, same POST and answer size, $c connections: $mc req/s; typeahead / ceiling $(ratio "$mt" "$mc")," \
        "ceiling / Redis $(ratio "$mc" "$mr") (medians of $ROUNDS rounds)"
    fi
  done
  for p in "${CONTENDERS[@]}"; do kill -CONT "$p" 2>/dev/null || true; done
  kill -9 "$AOF_PID" "$CEILING" 2>/dev/null || true
  wait "$CEILING" 2>/dev/null || true # its port serves step 6's ceiling next
fi
fi
if [ -z "${DURABLE_ONLY:-}" ]; then
  settle
  memory "after the write rounds"
fi
fi # RANKED_ONLY

[ -n "${DURABLE_ONLY:-}" ] && exit 0
[ "${RANKED:-1}" = 0 ] && exit 0 # RANKED=0 skips step 6
echo "== 6. ranked: order=score suggest, limit 10, 50 connections, by prefix class"
# The pairs of step 1 again, each with its user's follower count as score
# (users.csv's last column, typeahead::users::followers), into trie "ranked".
curl -sf -X DELETE "$BASE/v1/tries/ranked" >/dev/null || true
start=$(date +%s.%N)
"$REL/typeahead" import "$OUT/users.csv" --trie ranked --key-columns first,last,username \
  --value-column id --score-column followers --server "$BASE" 2>/dev/null | tail -1
end=$(date +%s.%N)
echo "typeahead: imported with scores in $(echo "$end - $start" | bc) s;" \
  "trie: $(curl -s "$BASE/v1/tries/ranked"); server RSS $(($(rss_kb "$SERVER" VmRSS) / 1024)) MiB"

# The prefix classes: the query mix of step 3, its one-character prefixes,
# and its prefixes of four characters or more.
cp "$QUERIES" "$OUT/q-mix.txt"
awk 'length($0) == 1' "$QUERIES" >"$OUT/q-one.txt"
awk 'length($0) >= 4' "$QUERIES" >"$OUT/q-deep.txt"
CLASSES=(mix one deep)

# RediSearch (when installed): the same pairs, FT.SUGADD ranked "KEY #ID"
# SCORE PAYLOAD ID. A suggestion dictionary holds one entry per string, so
# the id is appended to make each pair its own entry (3 per user, as in
# typeahead); no query contains " #", so every prefix matches as before.
REDISEARCH=${REDISEARCH:-/usr/lib/redis/modules/redisearch.so}
HAVE_REDIS=""
if [ "${REDIS:-1}" != 0 ] && command -v redis-server >/dev/null && [ -f "$REDISEARCH" ]; then
  taskset -c "$SERVER_CPU" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --loadmodule "$REDISEARCH" >"$OUT/redis.log" 2>&1 &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  for _ in $(seq 1 200); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  redis-cli -p "$REDIS_PORT" DEL ranked >/dev/null
  start=$(date +%s.%N)
  LC_ALL=C awk -F, 'NR > 1 {
    k[1] = tolower($2); k[2] = tolower($3); k[3] = $4
    for (i = 1; i <= 3; i++) {
      s = k[i] " #" $1
      printf "*6\r\n$9\r\nFT.SUGADD\r\n$6\r\nranked\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$7\r\nPAYLOAD\r\n$%d\r\n%s\r\n",
        length(s), s, length($5), $5, length($1), $1
    }
  }' "$OUT/users.csv" | redis-cli -p "$REDIS_PORT" --pipe >"$OUT/redis-load.txt"
  end=$(date +%s.%N)
  echo "RediSearch $(redis-cli -p "$REDIS_PORT" INFO server | awk -F: '/^redis_version/ {printf "(redis %s) ", $2}' | tr -d '\r')" \
    "loaded $(redis-cli -p "$REDIS_PORT" FT.SUGLEN ranked) suggestions in $(echo "$end - $start" | bc) s;" \
    "used_memory $(redis-cli -p "$REDIS_PORT" INFO memory | awk -F: '/^used_memory_human/ {print $2}' | tr -d '\r')," \
    "RSS $(($(rss_kb "$REDIS_PID" VmRSS) / 1024)) MiB"
  HAVE_REDIS=1
else
  echo "(RediSearch not measured: REDIS=0, or redis-server or $REDISEARCH missing;" \
    "apt-get install -y redis-server redis-redisearch)"
fi

RANKED_PATH=/v1/tries/ranked/suggest
[ -n "${FUZZY_ONLY:-}" ] && CLASSES=()
for cls in "${CLASSES[@]}"; do
  qf=$OUT/q-$cls.txt
  size=$(shuf -n 200 --random-source="$qf" "$qf" | while read -r q; do
    curl -s "$BASE$RANKED_PATH?q=$q&limit=10&order=score" | wc -c; done | awk '{s+=$1} END {printf "%d", s/NR}')
  echo "-- class $cls: $(wc -l < "$qf") prefixes, e.g. $(shuf -n 3 --random-source="$qf" "$qf" | xargs);" \
    "average answer $size bytes"
  taskset -c "$SERVER_CPU" "$REL"/examples/ceiling "127.0.0.1:$CEIL_PORT" "$size" 2>/dev/null &
  CEILING=$!
  PIDS+=("$CEILING")
  wait_up "http://127.0.0.1:$CEIL_PORT/"
  CONTENDERS=("$SERVER" "$CEILING")
  [ -n "$HAVE_REDIS" ] && CONTENDERS+=("$REDIS_PID")
  for r in $(seq 1 "$ROUNDS"); do
    only "$SERVER"
    QUERIES=$qf SUGGEST_PATH=$RANKED_PATH SUGGEST_ARGS='&order=score' \
      wrk_run "ranked_${cls}_$r" -t1 -c50 -d"$DURATION" -s scripts/wrk/suggest.lua "$BASE"
    only "$CEILING"
    QUERIES=$qf wrk_run "rceiling_${cls}_$r" -t1 -c50 -d"$DURATION" -s scripts/wrk/suggest.lua \
      "http://127.0.0.1:$CEIL_PORT"
    if [ -n "$HAVE_REDIS" ]; then
      only "$SERVER"
      gen_run "gen_ours_${cls}_$r" http "$PORT" "$qf" "$RANKED_PATH?q={q}&limit=10&order=score"
      only "$REDIS_PID"
      gen_run "gen_redis_${cls}_$r" resp "$REDIS_PORT" "$qf" "FT.SUGGET ranked {q} MAX 10 WITHSCORES WITHPAYLOADS"
    fi
  done
  for p in "${CONTENDERS[@]}"; do kill -CONT "$p" 2>/dev/null || true; done
  kill -9 "$CEILING"
  wait "$CEILING" 2>/dev/null || true
done

[ -n "${FUZZY_ONLY:-}" ] || echo "-- ranked, medians of $ROUNDS rounds of $DURATION (req/s)"
if [ -z "${FUZZY_ONLY:-}" ]; then
  printf '%-6s %12s %12s %8s' class "ours (wrk)" "ceiling" "/ceiling"
  [ -n "$HAVE_REDIS" ] && printf ' %14s %14s %8s' "ours (loadgen)" "RediSearch" "/RediSearch"
  echo
fi
for cls in "${CLASSES[@]}"; do
  T=(); C=(); O=(); R=()
  for r in $(seq 1 "$ROUNDS"); do
    eval "T+=(\$RPS_ranked_${cls}_$r)"; eval "C+=(\$RPS_rceiling_${cls}_$r)"
    if [ -n "$HAVE_REDIS" ]; then eval "O+=(\$RPS_gen_ours_${cls}_$r)"; eval "R+=(\$RPS_gen_redis_${cls}_$r)"; fi
  done
  MT=$(median "${T[@]}"); MC=$(median "${C[@]}")
  printf '%-6s %12s %12s %8s' "$cls" "$MT" "$MC" "$(ratio "$MT" "$MC")"
  if [ -n "$HAVE_REDIS" ]; then
    MO=$(median "${O[@]}"); MR=$(median "${R[@]}")
    printf ' %14s %14s %8s' "$MO" "$MR" "$(ratio "$MO" "$MR")"
  fi
  echo
done

[ "${FUZZY:-1}" = 0 ] && exit 0 # FUZZY=0 skips step 7
echo "== 7. typos: order=score&fuzzy=1, limit 10, 50 connections, one typo per prefix"
# The prefixes of four characters or more, each with one random edit
# (substitute, insert, delete or swap two neighbours), seeded.
LC_ALL=C awk 'BEGIN { srand(7) } {
  n = length($0); i = int(rand() * n) + 1; c = substr("abcdefghijklmnopqrstuvwxyz", int(rand() * 26) + 1, 1)
  k = int(rand() * 4)
  if (k == 0) q = substr($0, 1, i - 1) c substr($0, i + 1)
  else if (k == 1) q = substr($0, 1, i - 1) c substr($0, i)
  else if (k == 2) q = substr($0, 1, i - 1) substr($0, i + 1)
  else if (i < n) q = substr($0, 1, i - 1) substr($0, i + 1, 1) substr($0, i, 1) substr($0, i + 2)
  else q = $0 c
  print q
}' "$OUT/q-deep.txt" >"$OUT/q-typo.txt"
echo "-- $(wc -l < "$OUT/q-typo.txt") prefixes, e.g. $(shuf -n 3 --random-source="$OUT/q-typo.txt" "$OUT/q-typo.txt" | xargs)"
CONTENDERS=("$SERVER")
if [ -n "$HAVE_REDIS" ]; then
  CONTENDERS+=("$REDIS_PID")
else
  echo "(RediSearch not measured; typeahead alone)"
fi
for r in $(seq 1 "$ROUNDS"); do
  only "$SERVER"
  gen_run "gen_fuzzy_ours_$r" http "$PORT" "$OUT/q-typo.txt" "$RANKED_PATH?q={q}&limit=10&order=score&fuzzy=1"
  if [ -n "$HAVE_REDIS" ]; then
    only "$REDIS_PID"
    gen_run "gen_fuzzy_redis_$r" resp "$REDIS_PORT" "$OUT/q-typo.txt" "FT.SUGGET ranked {q} FUZZY MAX 10 WITHSCORES WITHPAYLOADS"
  fi
done
for p in "$SERVER" ${HAVE_REDIS:+"$REDIS_PID"}; do kill -CONT "$p" 2>/dev/null || true; done
O=(); R=()
for r in $(seq 1 "$ROUNDS"); do
  eval "O+=(\$RPS_gen_fuzzy_ours_$r)"
  [ -n "$HAVE_REDIS" ] && eval "R+=(\$RPS_gen_fuzzy_redis_$r)"
done
MO=$(median "${O[@]}")
if [ -n "$HAVE_REDIS" ]; then
  MR=$(median "${R[@]}")
  echo "-- typos, medians of $ROUNDS rounds of $DURATION: ours $MO req/s, RediSearch FUZZY $MR req/s, ratio $(ratio "$MO" "$MR")"
else
  echo "-- typos, median of $ROUNDS rounds of $DURATION: ours $MO req/s"
fi
