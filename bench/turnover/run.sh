#!/usr/bin/env bash
# Request turnover at 1k / 3k / 10k / 30k streams (issue 13) and non-streaming throughput
# against wrk. A benchmark, not a test: it prints figures, it asserts nothing.
#
# Turnover: llmbench-sim (vllm personality, TTFT 50 ms, one token a second, no jitter, one
# thread) pinned to SIM_CPU; `llmbench quick -c N -n 2N --max-tokens 10 --ignore-eos` (every
# connection is reused once: short closed-loop requests on reused connections) pinned to
# CLIENT_CPU. Up to 10,000 streams: one local worker with one loop thread on one core; above:
# one local worker per 10,000 streams (a worker's --max-concurrency) on both cores (the 2-core
# client of the issue), and two simulators sharing the port (--reuse-port: one process may hold
# at most `ulimit -n` sockets).
# Per run it prints:
#   client_cpu_s, cpu_per_token_us   perf stat task-clock of the whole client (coordinator and
#                                    local workers) / output tokens;
#   ttft p50/p99 client vs sim       the client's TTFT against the simulator's *observed* TTFT
#                                    (request read -> write of the first token completed,
#                                    /sim/metrics llmbench_sim_observed_ttft_seconds), and the error;
#   itl p50/p99 client vs sim        likewise for inter-token latency;
#   sim_write_lateness p99           how late the simulator was against its own model (a
#                                    yardstick that states its own error);
#   dispatch_delay p50/p99, verdict, saturated loop windows, connections per request.
# Non-streaming: sim with no latency on SIM_CPU; `wrk -t1 -c64` (bench/worker/post.lua, the
# body of MEASUREMENTS.md) and `llmbench quick --no-stream -c 64 --local-workers 1
# --loop-threads 1` on CLIENT_CPU, each for DURATION s; requests/s and the ratio.
#
# Reference: 100 streams of 128 tokens at ITL 10 ms (-n 1000), the per-token cost the issue
# compares the turnover figures with ("within 2x of its 100-stream figure").
#
# Usage: bench/turnover/run.sh [reference] [turnover] [nonstream]     (default: all three)
# Knobs: BUILD_DIR (build), STREAMS ("1000 3000 10000 30000"), SIM_CPU (0), CLIENT_CPU (1),
#        DURATION (10), NONSTREAM_CONC (64), LLMBENCH_HTTP_CLIENT (curl: the libcurl transport
#        for comparison), OUT (a temporary folder).
# Above ~28,000 connections to one port the kernel's ephemeral port range (32768-60999) runs
# out: the script widens net.ipv4.ip_local_port_range to "1024 65535" for the run when it can
# (and says so), and puts it back afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
B="${BUILD_DIR:-build}"
STREAMS="${STREAMS:-1000 3000 10000 30000}"
SIM_CPU="${SIM_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
DURATION="${DURATION:-10}"
NONSTREAM_CONC="${NONSTREAM_CONC:-64}"
OUT="${OUT:-$(mktemp -d /tmp/llmbench-turnover.XXXXXX)}"
modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(reference turnover nonstream)
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
SIM="$B/sim/llmbench-sim"
LLMBENCH="$B/coordinator/llmbench"
PIDS=()
PORT_RANGE_SAVED=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$PORT_RANGE_SAVED" ]; then echo "$PORT_RANGE_SAVED" >/proc/sys/net/ipv4/ip_local_port_range; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_sims PORT COUNT SIM_FLAGS...: COUNT simulators on PORT (--reuse-port when > 1).
start_sims() {
  local port=$1 count=$2; shift 2
  local extra=()
  [ "$count" -gt 1 ] && extra=(--reuse-port)
  SIM_PIDS=()
  for _ in $(seq "$count"); do
    taskset -c "$SIM_CPU" "$SIM" --listen "vllm=127.0.0.1:$port" --model sim-model "$@" \
      "${extra[@]}" >"$OUT/sim.log" 2>&1 &
    SIM_PIDS+=($!)
    PIDS+=($!)
  done
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/sim/metrics" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "simulator did not start" >&2
  return 1
}
stop_sims() { for p in "${SIM_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }

# sim_metrics PORT PREFIX COUNT: /sim/metrics of each of COUNT simulators sharing PORT (the
# kernel picks one per connection: fetch until COUNT different ones answered) to PREFIX.sim*.
sim_metrics() {
  local port=$1 prefix=$2 count=$3 i=0 got=0
  rm -f "$prefix".sim*
  while [ "$got" -lt "$count" ] && [ "$i" -lt 50 ]; do
    i=$((i + 1))
    curl -s "http://127.0.0.1:$port/sim/metrics" >"$prefix.try" || continue
    if ! cmp -s "$prefix.try" "$prefix.sim1" 2>/dev/null && ! cmp -s "$prefix.try" "$prefix.sim2" 2>/dev/null; then
      got=$((got + 1))
      mv "$prefix.try" "$prefix.sim$got"
    fi
  done
  rm -f "$prefix.try"
}

report() {
  python3 - "$1" "$2" "$(cut -d' ' -f1 /proc/loadavg)" <<'EOF'
import json, sys, glob
d, n, load = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def prom(path):
    out = {}
    try:
        for line in open(path):
            if line.startswith('#') or not line.strip(): continue
            k, v = line.rsplit(' ', 1)
            out[k] = float(v)
    except OSError:
        pass
    return out
cpu_ms = 0.0
for line in open(d + '.perf'):
    parts = line.strip().split(',')
    if len(parts) > 2 and parts[2] == 'task-clock': cpu_ms = float(parts[0])
try:
    r = json.load(open(d + '/summary.json'))
except OSError:
    print(f"streams {n}: no summary.json; see {d}.out"); sys.exit(0)
o = r.get('overall', {})
tokens = int(o.get('output_tokens_total', 0))
sims = [prom(p) for p in sorted(glob.glob(d + '.sim*'))]
sims = [s for s in sims if s]
def simq(name, q):
    vals = [s.get(f'{name}{{quantile="{q}"}}') for s in sims]
    vals = [v for v in vals if v is not None]
    return 1000 * sum(vals) / len(vals) if vals else float('nan')
def dist(name, q):
    return o.get(name, {}).get(q, float('nan'))
ttft50, ttft99 = dist('ttft_ms', 'p50'), dist('ttft_ms', 'p99')
itl50, itl99 = dist('itl_ms', 'p50'), dist('itl_ms', 'p99')
s_ttft50, s_ttft99 = simq('llmbench_sim_observed_ttft_seconds', '0.5'), simq('llmbench_sim_observed_ttft_seconds', '0.99')
s_itl50, s_itl99 = simq('llmbench_sim_observed_itl_seconds', '0.5'), simq('llmbench_sim_observed_itl_seconds', '0.99')
late99 = simq('llmbench_sim_chunk_write_lateness_seconds', '0.99')
lag99 = simq('llmbench_sim_request_read_lag_seconds', '0.99')
def simmean(name):
    c = sum(s.get(name + '_count', 0) for s in sims)
    return 1000 * sum(s.get(name + '_sum', 0) for s in sims) / c if c else float('nan')
s_ttft_mean = simmean('llmbench_sim_observed_ttft_seconds')
v = r.get('verdict', {})
print(f"streams {n} (load {load}): requests {o.get('requests', 0)} ok {o.get('successes', 0)}, "
      f"client_cpu_s {cpu_ms/1000:.2f}, cpu_per_token_us {1000*cpu_ms/max(tokens,1):.1f}")
print(f"  ttft p50 client {ttft50:.2f} sim {s_ttft50:.2f} error {ttft50-s_ttft50:+.2f} ms | "
      f"p99 client {ttft99:.2f} sim {s_ttft99:.2f} error {ttft99-s_ttft99:+.2f} ms")
print(f"  ttft mean client {o.get('ttft_ms', {}).get('mean', float('nan')):.2f} sim {s_ttft_mean:.2f} ms; "
      f"sim's own lateness p99: reading requests {lag99:.2f} ms, writing tokens {late99:.2f} ms "
      f"(large: the yardstick was late, compare with care)")
print(f"  itl  p50 client {itl50:.2f} sim {s_itl50:.2f} error {itl50-s_itl50:+.2f} ms | "
      f"p99 client {itl99:.2f} sim {s_itl99:.2f} error {itl99-s_itl99:+.2f} ms")
bw = o.get('busiest_loop_window', {})
print(f"  dispatch_delay p50 {dist('dispatch_delay_ms','p50'):.3f} p99 {dist('dispatch_delay_ms','p99'):.3f} ms, "
      f"saturated loop windows {o.get('saturated_loop_windows', 0)}, "
      f"busiest window cpu {bw.get('cpu', 0):.2f} runq {bw.get('runq_wait', 0):.2f}, "
      f"verdict {v.get('state', '?')}")
for reason in v.get('reasons', []): print(f"    reason: {reason}")
EOF
}

reference() {
  echo "# reference: load $(cut -d' ' -f1-3 /proc/loadavg), transport ${LLMBENCH_HTTP_CLIENT:-auto}"
  local port dir="$OUT/reference"
  port=$(free_port)
  start_sims "$port" 1 --ttft-base-ms 50 --ttft-per-token-us 0 --itl-ms 10 --itl-per-seq-us 0 \
    --max-batch 100000 --jitter 0 --threads 1
  rm -rf "$dir"
  taskset -c "$CLIENT_CPU" perf stat -x, -e task-clock -o "$dir.perf" \
    "$LLMBENCH" quick -e vllm -u "http://127.0.0.1:$port" -m sim-model -c 100 -n 1000 \
    --max-tokens 128 --ignore-eos -q --local-workers 1 --loop-threads 1 --no-engine-check \
    --out "$dir" >"$dir.out" 2>&1 || true
  sim_metrics "$port" "$dir" 1
  stop_sims
  report "$dir" 100
}

turnover() {
  echo "# turnover: load $(cut -d' ' -f1-3 /proc/loadavg), transport ${LLMBENCH_HTTP_CLIENT:-auto}"
  for n in $STREAMS; do
    local port workers cpus sims
    port=$(free_port)
    # A worker accepts at most 10,000 concurrent requests (llmbench-worker --max-concurrency).
    if [ "$n" -gt 10000 ]; then
      workers=$(((n + 9999) / 10000)); cpus="0,1"; sims=2
    else
      workers=1; cpus="$CLIENT_CPU"; sims=1
    fi
    local need=$((n + 2000)) lo hi
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
    if [ $((hi - lo)) -lt "$need" ] && [ -z "$PORT_RANGE_SAVED" ]; then
      if echo "1024 65535" >/proc/sys/net/ipv4/ip_local_port_range 2>/dev/null; then
        PORT_RANGE_SAVED="$lo $hi"
        echo "note: ip_local_port_range widened from '$lo $hi' to '1024 65535' for this run"
      else
        echo "note: only $((hi - lo)) ephemeral ports for $n connections: expect connect errors"
      fi
    fi
    start_sims "$port" "$sims" --ttft-base-ms 50 --ttft-per-token-us 0 --itl-ms 1000 \
      --itl-per-seq-us 0 --max-batch 100000 --jitter 0 --threads 1
    local dir="$OUT/turnover-$n"
    rm -rf "$dir"
    taskset -c "$cpus" perf stat -x, -e task-clock -o "$dir.perf" \
      "$LLMBENCH" quick -e vllm -u "http://127.0.0.1:$port" -m sim-model -c "$n" -n $((2 * n)) \
      --max-tokens 10 --ignore-eos -q --local-workers "$workers" --loop-threads 1 \
      --no-engine-check --out "$dir" >"$dir.out" 2>&1 || true
    sim_metrics "$port" "$dir" "$sims"
    stop_sims
    report "$dir" "$n"
  done
}

nonstream() {
  echo "# nonstream: load $(cut -d' ' -f1-3 /proc/loadavg), transport ${LLMBENCH_HTTP_CLIENT:-auto}"
  local port
  port=$(free_port)
  start_sims "$port" 1 --ttft-base-ms 0 --ttft-per-token-us 0 --itl-ms 0 --itl-per-seq-us 0 \
    --max-batch 100000 --jitter 0 --threads 1
  printf '{"model":"sim-model","prompt":"hello","max_tokens":1,"stream":false}' >"$OUT/body.json"
  if command -v wrk >/dev/null; then
    taskset -c "$CLIENT_CPU" perf stat -x, -e task-clock -o "$OUT/wrk.perf" wrk -t1 -c"$NONSTREAM_CONC" -d"${DURATION}s" -s bench/worker/post.lua \
      "http://127.0.0.1:$port/v1/completions" -- "$OUT/body.json" >"$OUT/wrk.out" 2>&1 || true
    echo "wrk: $(grep -E 'Requests/sec' "$OUT/wrk.out" | tr -s ' ')"
  fi
  rm -rf "$OUT/nonstream"
  taskset -c "$CLIENT_CPU" perf stat -x, -e task-clock -o "$OUT/nonstream.perf" \
    "$LLMBENCH" quick -e vllm -u "http://127.0.0.1:$port" -m sim-model --no-stream \
    -c "$NONSTREAM_CONC" -n 1000000 -d "$DURATION" --max-tokens 1 --prompt-tokens 1 --local-workers 1 \
    --loop-threads 1 -q --no-engine-check --out "$OUT/nonstream" >"$OUT/nonstream.out" 2>&1 || true
  stop_sims
  python3 - "$OUT" "$DURATION" <<'EOF'
import json, re, sys
d = sys.argv[1]
r = json.load(open(d + '/nonstream/summary.json'))
o = r['overall']
cpu_ms = 0.0
for line in open(d + '/nonstream.perf'):
    p = line.strip().split(',')
    if len(p) > 2 and p[2] == 'task-clock': cpu_ms = float(p[0])
rps = float(o.get('request_throughput', 0))
o['requests'] = int(o.get('requests', 0)); o['failures'] = int(o.get('failures', 0))
wrk = None
try:
    m = re.search(r'Requests/sec:\s+([0-9.]+)', open(d + '/wrk.out').read())
    wrk = float(m.group(1)) if m else None
except OSError:
    pass
line = (f"llmbench: {rps:.0f} req/s ({o.get('requests', 0)} requests, {o.get('failures', 0)} failed), "
        f"client CPU {1000*cpu_ms/max(o.get('requests', 1),1):.1f} us/request")
if wrk:
    wrk_ms = 0.0
    for l in open(d + '/wrk.perf'):
        p = l.strip().split(',')
        if len(p) > 2 and p[2] == 'task-clock': wrk_ms = float(p[0])
    wrk_us = 1000 * wrk_ms / max(wrk * float(sys.argv[2]), 1)
    line += f"; wrk {wrk:.0f} req/s, {wrk_us:.1f} us/request; llmbench/wrk {rps/wrk:.2f}"
print(line)
EOF
}

for m in "${modes[@]}"; do "$m"; done
echo "outputs: $OUT"
