# Helpers shared by scripts/bench-http.sh and scripts/bench-cluster.sh
# (sourced; they read OUT and CLIENT_CPU).

wait_up() { # url: until it answers 2xx, at most 60 s
  for _ in $(seq 1 1200); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done
  echo "server at $1 did not come up" >&2; return 1
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { echo "scale=2; $1 / $2" | bc; }
# One wrk run pinned to CLIENT_CPU: prints requests/s, p50 and p99, keeps
# the output in $OUT/wrk-LABEL.txt and the rate in RPS_<label>.
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
