#!/usr/bin/env bash
# Soak test (docs/reliability.md §"Soak"): 10,000 concurrent streams against llmbench-sim for
# 10 minutes through one llmbench-worker, all built with AddressSanitizer (+UBSan, LeakSanitizer).
# Not part of CI: it takes ~10 minutes plus the ASan build.
#
#   scripts/soak.sh                      # build build-asan, run, check, print the numbers
#   SOAK_BUILD=0 scripts/soak.sh         # reuse an existing build-asan
#   SOAK_DURATION=120 SOAK_CONCURRENCY=2000 scripts/soak.sh   # a shorter try
#   SOAK_COORDINATOR=build/coordinator/llmbench scripts/soak.sh  # a non-ASan coordinator
#
# What it does: builds BUILD_DIR (default build-asan) with -DLLMBENCH_SANITIZE=address; raises
# ulimit -n; starts the sim and one worker (ASan binaries, ASAN_OPTIONS=detect_leaks=1);
# runs `llmbench load --concurrency 10000 --duration 600` against the sim through that worker;
# samples the worker's (and the sim's) RSS every 10 s into rss.csv; then stops the worker and
# the sim with SIGTERM (both exit cleanly, which runs LeakSanitizer) and checks:
#   1. no "ERROR: LeakSanitizer" / "ERROR: AddressSanitizer" / "runtime error:" in any log;
#   2. the worker, the sim and the coordinator exited 0;
#   3. the worker's RSS grew by at most SOAK_MAX_GROWTH_PCT percent (default 10) between the
#      sample at minute 2 and the last sample under load (minute 10): a steady state.
# Exit status 0 when every check passes, 1 otherwise. Outputs in SOAK_OUT (default
# results/soak-<UTC time>): rss.csv, *.log, the run's results, soak.txt (the numbers).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${BUILD_DIR:-build-asan}"
concurrency="${SOAK_CONCURRENCY:-10000}"
duration="${SOAK_DURATION:-600}"
itl_ms="${SOAK_ITL_MS:-500}"          # decode step: 10,000 streams of 64 tokens at 0.5 s a
max_tokens="${SOAK_MAX_TOKENS:-64}"   # token = ~310 requests/s, ~20,000 SSE events/s
max_growth_pct="${SOAK_MAX_GROWTH_PCT:-10}"
sample_s=10
out="${SOAK_OUT:-results/soak-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if [ "${SOAK_BUILD:-1}" != "0" ]; then
  echo "soak: building $build_dir with AddressSanitizer"
  BUILD_DIR="$build_dir" scripts/build.sh -DLLMBENCH_SANITIZE=address
fi
sim_bin="$build_dir/sim/llmbench-sim"
worker_bin="$build_dir/worker/llmbench-worker"
# The coordinator only aggregates; any build of it will do (SOAK_COORDINATOR), by default the
# ASan one.
coord_bin="${SOAK_COORDINATOR:-$build_dir/coordinator/llmbench}"
for bin in "$sim_bin" "$worker_bin" "$coord_bin"; do
  [ -x "$bin" ] || { echo "soak: $bin is missing (build $build_dir first)" >&2; exit 1; }
done
if ! grep -q "LLMBENCH_SANITIZE:STRING=address" "$build_dir/CMakeCache.txt"; then
  echo "soak: $build_dir is not an AddressSanitizer build" >&2
  exit 1
fi

# Every stream needs a socket in the worker and in the sim.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "soak: open files limit $(ulimit -n)"
# Leak check at exit; a small quarantine so that RSS shows the program's own memory rather
# than ASan's freed-memory quarantine filling up (default 256 MiB).
export ASAN_OPTIONS="detect_leaks=1:quarantine_size_mb=64:abort_on_error=0:allocator_release_to_os_interval_ms=5000"
export UBSAN_OPTIONS="print_stacktrace=1"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_line() {  # FILE PREFIX: waits up to 60 s for a line starting with PREFIX, prints it
  for _ in $(seq 600); do
    if grep -q "^$2" "$1" 2>/dev/null; then grep -m1 "^$2" "$1"; return 0; fi
    sleep 0.1
  done
  echo "soak: no '$2' line in $1" >&2
  return 1
}

"$sim_bin" --listen vllm=127.0.0.1:0 --itl-ms "$itl_ms" --itl-per-seq-us 0 --ttft-base-ms 20 \
  --max-batch 20000 --threads 1 --log-level warn >"$out/sim.out" 2>"$out/sim.log" &
sim_pid=$!
pids+=("$sim_pid")
sim_url="$(wait_line "$out/sim.out" "listening vllm" | awk '{print $3}')"

"$worker_bin" --listen 127.0.0.1:0 --worker-id soak --max-concurrency "$concurrency" \
  --log-level info >"$out/worker.out" 2>"$out/worker.log" &
worker_pid=$!
pids+=("$worker_pid")
worker_addr="$(wait_line "$out/worker.out" "listening grpc://" | sed 's|listening grpc://||')"
echo "soak: sim $sim_url (pid $sim_pid), worker $worker_addr (pid $worker_pid)"

rss_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "t_s,worker_rss_kib,worker_hwm_kib,sim_rss_kib" >"$out/rss.csv"

start=$(date +%s)
"$coord_bin" load -e vllm -u "$sim_url" -m sim-model --concurrency "$concurrency" \
  --duration "$duration" --max-tokens "$max_tokens" --prompt-tokens 32 --ignore-eos \
  --workers "$worker_addr" --worker-timeout 30 --out "$out/run" -q \
  >"$out/coordinator.out" 2>"$out/coordinator.log" &
coord_pid=$!
pids+=("$coord_pid")
while kill -0 "$coord_pid" 2>/dev/null; do
  now=$(( $(date +%s) - start ))
  echo "$now,$(rss_kib "$worker_pid" VmRSS),$(rss_kib "$worker_pid" VmHWM),$(rss_kib "$sim_pid" VmRSS)" \
    >>"$out/rss.csv"
  for _ in $(seq "$sample_s"); do
    kill -0 "$coord_pid" 2>/dev/null || break
    sleep 1
  done
done
coord_rc=0
wait "$coord_pid" || coord_rc=$?
kill -TERM "$worker_pid"
worker_rc=0
wait "$worker_pid" || worker_rc=$?
kill -TERM "$sim_pid"
sim_rc=0
wait "$sim_pid" || sim_rc=$?
pids=()

fail=0
report() { echo "$*" | tee -a "$out/soak.txt"; }
: >"$out/soak.txt"
report "soak: $concurrency streams, ${duration} s, itl ${itl_ms} ms, ${max_tokens} tokens; ASan build $build_dir"
report "soak: exit status coordinator $coord_rc, worker $worker_rc, sim $sim_rc"
# 3 (error rate over threshold) and 4 (INVALID: an ASan generator may fall behind its own
# schedule or saturate its CPU) are verdicts about the load, reported but not soak failures.
case "$coord_rc" in
  0) ;;
  3|4) report "soak: note: coordinator exit $coord_rc ($(grep -m1 '^exit status' "$out/coordinator.out" || true))" ;;
  *) report "soak: FAIL coordinator exit $coord_rc"; fail=1 ;;
esac
[ "$worker_rc" -eq 0 ] || { report "soak: FAIL worker exit $worker_rc"; fail=1; }
[ "$sim_rc" -eq 0 ] || { report "soak: FAIL sim exit $sim_rc"; fail=1; }
for log in sim.log worker.log coordinator.log; do
  if grep -q -E "ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:" "$out/$log"; then
    report "soak: FAIL sanitizer report in $log:"
    grep -E -A20 "ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:" "$out/$log" | head -60
    fail=1
  else
    report "soak: $log: no LeakSanitizer/AddressSanitizer/UBSan report"
  fi
done
grep -E "^(requests|errors|throughput|verdict)|req/s|requests" "$out/coordinator.out" | head -8 \
  | tee -a "$out/soak.txt" || true

# RSS growth between minute 2 and the last sample of the load (t <= duration: afterwards the
# streams drain and RSS falls, which would hide growth).
read -r rss2 rss_end t_end peak < <(awk -F, -v d="$duration" 'NR > 1 && $2 > 0 {
    if (!have2 && $1 >= 120) { rss2 = $2; have2 = 1 }
    if ($1 <= d) { last = $2; t = $1 }
    if ($3 > hwm) hwm = $3 }
  END { print (have2 ? rss2 : 0), last + 0, t + 0, hwm + 0 }' "$out/rss.csv")
if [ "$rss2" -gt 0 ]; then
  growth_pct=$(awk -v a="$rss2" -v b="$rss_end" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
  report "soak: worker RSS minute 2: $((rss2 / 1024)) MiB, at ${t_end} s: $((rss_end / 1024)) MiB" \
    "(growth ${growth_pct}%, bound ${max_growth_pct}%), peak (VmHWM) $((peak / 1024)) MiB"
  if awk -v g="$growth_pct" -v m="$max_growth_pct" 'BEGIN { exit !(g > m) }'; then
    report "soak: FAIL RSS grew more than ${max_growth_pct}% after minute 2"
    fail=1
  fi
else
  report "soak: run shorter than 2 minutes: no growth check"
fi
report "soak: outputs in $out"
if [ "$fail" -ne 0 ]; then report "soak: FAILED"; exit 1; fi
report "soak: PASSED"
