#!/usr/bin/env bash
# Benchmarks llmbench-sim on one core: concurrent streams held, stream events (tokens) per
# second per core, and resident memory per stream. Builds nothing: it runs
# ${BUILD_DIR:-build}/sim/llmbench-sim. The sim is pinned to CPU ${SIM_CPU:-0} and wrk to
# CPU ${WRK_CPU:-1} with taskset.
#
#   bench/sim/run.sh                        # 10000 streams of 20000 tokens, 5 ms steps
#   CONNS=2000 TOKENS=500 ITL_MS=2 bench/sim/run.sh
#
# Output: one "key value" line per measurement, then a summary table (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

BUILD_DIR="${BUILD_DIR:-build}"
SIM="${SIM:-$BUILD_DIR/sim/llmbench-sim}"
CONNS="${CONNS:-10000}"          # concurrent streams (wrk connections)
TOKENS="${TOKENS:-20000}"        # tokens per stream; long enough to outlast the run
ITL_MS="${ITL_MS:-5}"            # decode step base; per-sequence cost is 0 so steps stay short
SETTLE_S="${SETTLE_S:-60}"       # max seconds to wait for all streams to be running
WINDOW_S="${WINDOW_S:-10}"       # measurement window for events/s
SIM_CPU="${SIM_CPU:-0}"
WRK_CPU="${WRK_CPU:-1}"
SIM_THREADS="${SIM_THREADS:-1}"

for tool in wrk taskset curl; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done
[ -x "$SIM" ] || { echo "run.sh: $SIM not found; build it first (scripts/build.sh)" >&2; exit 1; }

# Each side needs one fd per stream plus a margin.
need=$((CONNS + 1000))
hard=$(ulimit -Hn)
if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$need" ]; then
  echo "run.sh: ulimit -Hn is $hard, need $need for $CONNS streams" >&2; exit 1
fi
ulimit -n "$need"

tmp=$(mktemp -d)
sim_pid=""
wrk_pid=""
cleanup() {  # SIGTERM, then SIGKILL after 10 s, for the two processes this script started
  local p
  for p in $wrk_pid $sim_pid; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do
    alive=""
    for p in $wrk_pid $sim_pid; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for p in $wrk_pid $sim_pid; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

taskset -c "$SIM_CPU" "$SIM" --listen vllm=127.0.0.1:0 --threads "$SIM_THREADS" \
  --itl-ms "$ITL_MS" --itl-per-seq-us 0 --ttft-base-ms 1 --ttft-per-token-us 0 \
  --max-batch $((CONNS * 2)) --max-model-len $((TOKENS + 100)) >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's|^listening vllm http://127.0.0.1:\([0-9]*\)$|\1|p' "$tmp/sim.out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "run.sh: sim did not start:" >&2; cat "$tmp/sim.err" >&2; exit 1; }
base="http://127.0.0.1:$port"

metric() {  # sum of a /sim/metrics sample family; retries while the sim's backlog is full
  local body=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    body=$(curl -s --max-time 30 --noproxy '*' "$base/sim/metrics" || true)
    [ -n "$body" ] && break
    sleep 0.5
  done
  [ -n "$body" ] || { echo "run.sh: /sim/metrics did not answer" >&2; exit 1; }
  awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f\n", s }' <<<"$body"
}
cpu_ticks() {  # utime + stime of a process (default: the sim), in clock ticks
  sed 's/^.*) //' "/proc/${1:-$sim_pid}/stat" | awk '{ print $12 + $13 }'
}
runq_ns() {  # time the sim spent runnable but waiting for its CPU (other load on that core)
  awk '{ print $2 }' "/proc/$sim_pid/schedstat"
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$sim_pid/status"; }
hz=$(getconf CLK_TCK)

idle_rss=$(rss_kib)
echo "idle_rss_kib $idle_rss"

taskset -c "$WRK_CPU" wrk -t1 -c"$CONNS" -d$((SETTLE_S + WINDOW_S + 30))s --timeout 600s \
  -s bench/sim/stream.lua "$base/v1/completions" -- "$TOKENS" >"$tmp/wrk.out" 2>&1 &
wrk_pid=$!

# (a) wait until every stream is admitted and running.
running=0
start=$(date +%s)
while [ $(( $(date +%s) - start )) -lt "$SETTLE_S" ]; do
  running=$(metric llmbench_sim_running)
  [ "$running" -ge "$CONNS" ] && break
  sleep 1
done
settle_s=$(( $(date +%s) - start ))
echo "running_streams $running (after ${settle_s}s)"

# (b) tokens per second and per CPU-second of the sim over a window; (c) RSS at full load.
t0=$(date +%s.%N); tok0=$(metric llmbench_sim_tokens_generated_total); cpu0=$(cpu_ticks)
wcpu0=$(cpu_ticks "$wrk_pid"); rq0=$(runq_ns)
sleep "$WINDOW_S"
t1=$(date +%s.%N); tok1=$(metric llmbench_sim_tokens_generated_total); cpu1=$(cpu_ticks)
wcpu1=$(cpu_ticks "$wrk_pid"); rq1=$(runq_ns)
running_end=$(metric llmbench_sim_running)
stalled_end=$(metric llmbench_sim_stalled)
stalls=$(metric llmbench_sim_backpressure_stalls_total)
load_rss=$(rss_kib)

awk -v t0="$t0" -v t1="$t1" -v k0="$tok0" -v k1="$tok1" -v c0="$cpu0" -v c1="$cpu1" -v hz="$hz" \
    -v r="$running" -v re="$running_end" -v idle="$idle_rss" -v load="$load_rss" \
    -v w0="$wcpu0" -v w1="$wcpu1" -v q0="$rq0" -v q1="$rq1" -v st="$stalled_end" -v sn="$stalls" '
  BEGIN {
    wall = t1 - t0; cpu = (c1 - c0) / hz; tok = k1 - k0;
    printf "window_s %.2f\nsim_cpu_s %.2f\ntokens %d\n", wall, cpu, tok;
    printf "sim_runq_wait_s %.2f\nwrk_cpu_s %.2f\n", (q1 - q0) / 1e9, (w1 - w0) / hz;
    printf "stalled_at_end %d\nbackpressure_stalls_total %d\n", st, sn;
    printf "events_per_s_wall %.0f\n", tok / wall;
    if (cpu > 0) printf "events_per_cpu_s %.0f\n", tok / cpu;
    printf "running_at_end %d\nload_rss_kib %d\n", re, load;
    if (r > 0) printf "rss_per_stream_kib %.1f\n", (load - idle) / r;
  }'
echo "--- wrk (stopped early with SIGINT; its totals are partial) ---"
kill -INT "$wrk_pid" 2>/dev/null || true
wait "$wrk_pid" 2>/dev/null || true
wrk_pid=""
head -20 "$tmp/wrk.out"
