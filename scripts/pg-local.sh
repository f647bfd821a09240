#!/usr/bin/env bash
# A private, throwaway PostgreSQL for the cluster tests and benchmarks.
#
#   eval "$(scripts/pg-local.sh start)"   # exports TYPEAHEAD_TEST_POSTGRES and PG_LOCAL_DIR
#   scripts/pg-local.sh stop "$PG_LOCAL_DIR"
#
# `start` runs initdb in a new temporary directory and starts postgres on a
# free loopback port with trust authentication (nothing outside the machine
# can reach it). PostgreSQL refuses to run as root, so under root the server
# runs as the `postgres` user. The binaries come from PATH or from
# /usr/lib/postgresql/*/bin.
set -euo pipefail

bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$found" ] || { echo "pg-local: $1 not found (install PostgreSQL)" >&2; exit 1; }
  echo "$found"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/typeahead-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_owner "$(bin initdb)" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    port=""
    for _ in $(seq 1 50); do
      p=$((30000 + RANDOM % 20000))
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
    done
    [ -n "$port" ] || { echo "pg-local: no free port" >&2; exit 1; }
    as_owner "$(bin pg_ctl)" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" \
      start >/dev/null || { cat "$dir/postgres.log" >&2; exit 1; }
    echo "export TYPEAHEAD_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres"
    echo "export PG_LOCAL_DIR=$dir"
    ;;
  stop)
    dir=${2:?usage: pg-local.sh stop DIR}
    as_owner "$(bin pg_ctl)" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
