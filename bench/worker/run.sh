#!/usr/bin/env bash
# Benchmarks the worker's load engine (ShardRunner, no gRPC) against llmbench-sim on loopback:
#   stream-events       streamed token events/s on one loop thread, CPU us per token
#   nonstream           non-streaming requests/s on one loop thread, CPU us per request, and
#                       wrk against the same endpoint with the same body and connection count
#   concurrent-streams  10,000 streams held in one worker, worker memory per stream
#   lateness            open-loop lateness p50/p99/max at 2,000 requests/s, split into kernel
#                       wake-up / loop busy / worker processing, next to a bare-timer baseline
#                       (the same schedule on an idle EventLoop, no requests)
# Builds nothing: it runs ${BUILD_DIR:-build}/sim/llmbench-sim and
# ${BUILD_DIR:-build}/bench/worker/worker_bench. A fresh sim per mode is pinned to CPU
# ${SIM_CPU:-0}; worker_bench and wrk are pinned to CPU ${WORKER_CPU:-1} (taskset).
#
#   bench/worker/run.sh                          # all four modes
#   bench/worker/run.sh nonstream lateness       # some of them
#   DURATION=5 STREAMS=2000 BUILD_DIR=build-h10 bench/worker/run.sh
#
# Lateness knob (off by default, and printed when used): LATENESS_CHRT=N runs worker_bench
# (and the baseline) under SCHED_FIFO priority N (chrt; needs CAP_SYS_NICE). On a core shared
# with other work this takes the run-queue wait out of the measurement; it is NOT how the
# worker runs in production.
#
# Output: each mode's "key value" lines (worker_bench's, plus sim_* and wrk_* lines), then a
# summary table against the issue's targets (see bench/README.md, "Worker").
set -euo pipefail
cd "$(dirname "$0")/../.."

BUILD_DIR="${BUILD_DIR:-build}"
SIM="${SIM:-$BUILD_DIR/sim/llmbench-sim}"
BENCH="${BENCH:-$BUILD_DIR/bench/worker/worker_bench}"
SIM_CPU="${SIM_CPU:-0}"
WORKER_CPU="${WORKER_CPU:-1}"
DURATION="${DURATION:-10}"          # seconds of measured dispatch per throughput mode
STREAM_CONC="${STREAM_CONC:-100}"   # stream-events: concurrent streams
STREAM_TOKENS="${STREAM_TOKENS:-256}"
STREAM_ITL_MS="${STREAM_ITL_MS:-0.5}"  # sim decode step: STREAM_CONC / step = offered tokens/s
NONSTREAM_CONC="${NONSTREAM_CONC:-64}" # nonstream: connections (worker and wrk alike)
NONSTREAM_TOKENS="${NONSTREAM_TOKENS:-16}"
STREAMS="${STREAMS:-10000}"         # concurrent-streams: streams held
HOLD_ITL_MS="${HOLD_ITL_MS:-1000}"  # concurrent-streams: one token per stream per second
RATE="${RATE:-2000}"                # lateness: open-loop requests/s
LATENESS_DURATION="${LATENESS_DURATION:-20}"
BASELINE_DURATION="${BASELINE_DURATION:-5}"  # lateness: seconds of the bare-timer baseline
LATENESS_CHRT="${LATENESS_CHRT:-}"  # lateness: SCHED_FIFO priority for worker_bench (off)
MODES=("$@")
[ ${#MODES[@]} -gt 0 ] || MODES=(stream-events nonstream concurrent-streams lateness)

for tool in taskset curl awk; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done
[ -x "$SIM" ] || { echo "run.sh: $SIM not found; build it first" >&2; exit 1; }
[ -x "$BENCH" ] || {
  echo "run.sh: $BENCH not found; cmake --build $BUILD_DIR --target worker_bench" >&2; exit 1; }

# One fd per stream plus a margin (the sim raises its own limit).
need=$((STREAMS + 1000))
[ "$need" -lt 65536 ] && need=65536
hard=$(ulimit -Hn)
if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$need" ]; then need=$hard; fi
ulimit -n "$need"

tmp=$(mktemp -d)
sim_pid=""
bg_pid=""
cleanup() {
  [ -n "$bg_pid" ] && kill "$bg_pid" 2>/dev/null || true
  stop_sim
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)

start_sim() {  # start_sim FLAGS...: a fresh vllm sim on an ephemeral port; sets base, sim_pid
  stop_sim
  taskset -c "$SIM_CPU" "$SIM" --listen vllm=127.0.0.1:0 --threads 1 "$@" \
    >"$tmp/sim.out" 2>"$tmp/sim.err" &
  sim_pid=$!
  local port=""
  for _ in $(seq 100); do
    port=$(sed -n 's|^listening vllm http://127.0.0.1:\([0-9]*\)$|\1|p' "$tmp/sim.out")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "run.sh: sim did not start:" >&2; cat "$tmp/sim.err" >&2; exit 1; }
  base="http://127.0.0.1:$port"
}
stop_sim() {  # SIGTERM, then SIGKILL after 10 s (a backed-up sim can be slow to exit)
  if [ -n "$sim_pid" ]; then
    kill "$sim_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$sim_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    sim_pid=""
  fi
}
sim_ticks() { sed 's/^.*) //' "/proc/$sim_pid/stat" | awk '{ print $12 + $13 }'; }
# Run-queue wait of the sim's threads (ns runnable but not running: a busy core).
sim_wait_ns() { cat /proc/"$sim_pid"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%.0f\n", s }'; }
now() { date +%s.%N; }
sim_mark() { t0=$(now); c0=$(sim_ticks); w0=$(sim_wait_ns); }
# sim_cpu_report: the sim's CPU share and run-queue wait since sim_mark.
sim_cpu_report() {
  local t1 c1 w1
  t1=$(now); c1=$(sim_ticks); w1=$(sim_wait_ns)
  awk -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v hz="$hz" -v w0="$w0" -v w1="$w1" \
    'BEGIN { printf "sim_cpu_s %.2f\nsim_cpu_utilization %.3f\nsim_run_queue_wait_s %.3f\n",
             (c1 - c0) / hz, (c1 - c0) / hz / (t1 - t0), (w1 - w0) / 1e9 }'
}
bench() { taskset -c "$WORKER_CPU" "$BENCH" --url "$base" "$@"; }
val() { awk -v k="$1" '$1 == k { print $2 }' "$2" | tail -1; }

fast_sim=(--ttft-base-ms 0 --ttft-per-token-us 0 --itl-per-seq-us 0 --max-batch 100000)

for mode in "${MODES[@]}"; do
  out="$tmp/$mode.out"
  echo "=== $mode ==="
  case "$mode" in
    stream-events)
      start_sim "${fast_sim[@]}" --itl-ms "$STREAM_ITL_MS"
      sim_mark
      bench --mode stream-events --concurrency "$STREAM_CONC" --max-tokens "$STREAM_TOKENS" \
        --duration "$DURATION" --warmup 0 | tee "$out" || true
      sim_cpu_report | tee -a "$out"
      ;;
    nonstream)
      start_sim "${fast_sim[@]}" --itl-ms 0
      sim_mark
      bench --mode nonstream --concurrency "$NONSTREAM_CONC" --max-tokens "$NONSTREAM_TOKENS" \
        --duration "$DURATION" --warmup 0 | tee "$out" || true
      sim_cpu_report | tee -a "$out"
      if command -v wrk >/dev/null; then
        # The exact request the worker sent, POSTed by wrk with the same connection count.
        "$BENCH" --mode nonstream --max-tokens "$NONSTREAM_TOKENS" --print-request >"$tmp/req"
        path=$(sed -n 2p "$tmp/req")
        sed -n 3p "$tmp/req" | tr -d '\n' >"$tmp/body.json"
        sim_mark
        taskset -c "$WORKER_CPU" wrk -t1 -c"$NONSTREAM_CONC" -d"${DURATION}s" --latency \
          -s bench/worker/post.lua "$base$path" -- "$tmp/body.json" >"$tmp/wrk.out" 2>&1 || true
        sed 's/^/wrk| /' "$tmp/wrk.out"
        sim_cpu_report | sed 's/^sim_/wrk_sim_/' | tee -a "$out"
        awk '/^Requests\/sec:/ { printf "wrk_requests_per_s %.0f\n", $2 }
             /Non-2xx/ { printf "wrk_non_2xx %d\n", $NF }' "$tmp/wrk.out" | tee -a "$out"
      else
        echo "run.sh: wrk not found: no side-by-side" >&2
      fi
      ;;
    concurrent-streams)
      start_sim --ttft-base-ms 0 --ttft-per-token-us 0 --itl-per-seq-us 0 \
        --itl-ms "$HOLD_ITL_MS" --max-batch $((STREAMS * 2)) --max-model-len 200000
      sim_mark
      bench --mode concurrent-streams --concurrency "$STREAMS" --max-tokens 100000 \
        --sim-metrics "$base/sim/metrics" --hold 5 --hold-timeout 180 | tee "$out" || true
      sim_cpu_report | tee -a "$out"
      ;;
    lateness)
      rt=()
      if [ -n "$LATENESS_CHRT" ]; then
        rt=(chrt -f "$LATENESS_CHRT")
        echo "scheduling SCHED_FIFO priority $LATENESS_CHRT (LATENESS_CHRT; not the default)" |
          tee "$out"
      fi
      echo "load_average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
      # The machine's own timer lateness: the same Poisson schedule on an idle EventLoop.
      taskset -c "$WORKER_CPU" "${rt[@]}" "$BENCH" --mode timer-baseline --rate "$RATE" \
        --duration "$BASELINE_DURATION" --warmup 0 | sed 's/^/baseline_/' | tee -a "$out" || true
      start_sim "${fast_sim[@]}" --itl-ms 0
      sim_mark
      taskset -c "$WORKER_CPU" "${rt[@]}" "$BENCH" --url "$base" --mode lateness --rate "$RATE" \
        --max-tokens "$NONSTREAM_TOKENS" --stream false --duration "$LATENESS_DURATION" \
        --warmup 2 | tee -a "$out" || true
      sim_cpu_report | tee -a "$out"
      ;;
    *)
      echo "run.sh: unknown mode '$mode'" >&2; exit 2 ;;
  esac
  stop_sim
done

echo "=== summary (targets: issue 3 section 7) ==="
f="$tmp/stream-events.out"
if [ -f "$f" ]; then
  awk -v e="$(val events_per_s "$f")" -v c="$(val cpu_us_per_event "$f")" \
      -v s="$(val sim_cpu_utilization "$f")" -v w="$(val cpu_utilization "$f")" 'BEGIN {
    printf "stream events/s %s (target >= 100000: %s); worker CPU %.2f us/event, %.0f%% of a core; sim %.0f%% of a core\n",
      e, (e >= 100000 ? "met" : "MISSED"), c, w * 100, s * 100 }'
fi
f="$tmp/nonstream.out"
if [ -f "$f" ]; then
  awk -v r="$(val requests_per_s "$f")" -v c="$(val cpu_us_per_request "$f")" \
      -v w="$(val wrk_requests_per_s "$f")" -v s="$(val sim_cpu_utilization "$f")" \
      -v ws="$(val wrk_sim_cpu_utilization "$f")" -v u="$(val cpu_utilization "$f")" 'BEGIN {
    printf "nonstream requests/s %s (target >= 5000: %s); worker CPU %.1f us/request, %.0f%% of a core; sim %.0f%%\n",
      r, (r >= 5000 ? "met" : "MISSED"), c, u * 100, s * 100;
    if (w != "") printf "wrk requests/s %s, same endpoint/body/connections (sim %.0f%% of a core)\n", w, ws * 100 }'
fi
f="$tmp/concurrent-streams.out"
if [ -f "$f" ]; then
  awk -v n="$(val in_flight "$f")" -v r="$(val sim_running "$f")" -v b="$(val bytes_per_stream "$f")" 'BEGIN {
    printf "concurrent streams held %s (sim running %s; target >= '"$STREAMS"': %s), %.0f bytes/stream (target <= 65536: %s)\n",
      n, r, (n >= '"$STREAMS"' && r >= '"$STREAMS"' ? "met" : "MISSED"), b, (b != "" && b <= 65536 ? "met" : "MISSED") }'
fi
f="$tmp/lateness.out"
if [ -f "$f" ]; then
  awk -v p="$(val lateness_p99_ms "$f")" -v m="$(val lateness_max_ms "$f")" \
      -v a="$(val achieved_rps "$f")" -v q="$(val lateness_p50_ms "$f")" 'BEGIN {
    printf "lateness at %s rps (achieved %s): p50 %s ms, p99 %s ms (target <= 1 ms: %s), max %s ms\n",
      '"$RATE"', a, q, p, (p != "" && p <= 1 ? "met" : "MISSED"), m }'
  awk -v n="$(val late_arrivals "$f")" -v k="$(val late_kernel_wake_share "$f")" \
      -v b="$(val late_loop_busy_share "$f")" -v w="$(val late_worker_cpu_share "$f")" \
      -v x="$(val late_not_running_share "$f")" \
      -v kp="$(val split_kernel_wake_p99_ms "$f")" -v bp="$(val split_loop_busy_p99_ms "$f")" \
      -v wp="$(val split_worker_cpu_p99_ms "$f")" -v xp="$(val split_not_running_p99_ms "$f")" \
      -v c="$(val cpu_us_per_request "$f")" -v rq="$(val run_queue_wait_s "$f")" \
      -v wl="$(val wall_s "$f")" -v co="$(val connections_opened "$f")" 'BEGIN {
    printf "  split of every arrival, p99: kernel wake-up %s ms, loop busy %s ms, worker CPU %s ms, not running %s ms\n", kp, bp, wp, xp;
    printf "  worker CPU %s us/request; run-queue wait %s s of %s s; connections opened %s\n", c, rq, wl, co;
    if (n > 0) printf "  late arrivals (> 1 ms): %d; their lateness: %.0f%% kernel wake-up, %.0f%% loop busy, %.0f%% worker CPU, %.0f%% not running\n",
      n, k * 100, b * 100, w * 100, x * 100 }'
  awk -v p="$(val baseline_lateness_p99_ms "$f")" -v q="$(val baseline_lateness_p50_ms "$f")" \
      -v m="$(val baseline_lateness_max_ms "$f")" 'BEGIN {
    if (p != "") printf "  bare-timer baseline (idle EventLoop, same schedule): p50 %s ms, p99 %s ms, max %s ms\n", q, p, m }'
  grep '^scheduling ' "$f" | sed 's/^/  /' || true
fi
