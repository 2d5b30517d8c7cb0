#!/usr/bin/env bash
# Builds and runs the libFuzzer targets in fuzz/ (docs/reliability.md, "Fuzzing").
#
# Optional tool set: installs clang and the libFuzzer runtime (Debian 12: clang-14,
# libclang-rt-14-dev) when missing; the normal build and CI never need them. Configures a clang
# build in build-fuzz/ (ASan+UBSan, coverage instrumentation everywhere, -DLLMBENCH_FUZZ=ON),
# builds the six fuzzers, lays out the seed corpora and runs each target for FUZZ_SECONDS.
#
# Usage: scripts/fuzz.sh [target...]        (default: all six)
#   FUZZ_SECONDS=600   run time per target
#   FUZZ_JOBS=1        targets run at the same time (each one process, nice -n 10)
#   BUILD_JOBS=2       build parallelism
#   FUZZ_BUILD_ONLY=1  build and lay out the corpora, run nothing
# Outputs: build-fuzz/fuzz-logs/<target>.log (libFuzzer's log and final stats), the growing
# corpus in build-fuzz/fuzz-corpus/<target>/ (not in git), and crashing inputs in
# fuzz/crashes/<target>/ (copy each into fuzz/regressions/<target>/ once fixed; ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
build_dir="${FUZZ_BUILD_DIR:-build-fuzz}"
seconds="${FUZZ_SECONDS:-600}"
jobs="${FUZZ_JOBS:-1}"
all_targets=(sse_framing_fuzz ndjson_framing_fuzz ollama_protocol_fuzz openai_protocol_fuzz
             tgi_protocol_fuzz scenario_loader_fuzz)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

# ---- the optional fuzz tool set -----------------------------------------------------------
fuzz_packages=(clang libclang-rt-14-dev)
missing=()
for p in "${fuzz_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "fuzz: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---- build ----------------------------------------------------------------------------------
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  generator=()
  if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
  cmake -S . -B "$build_dir" "${generator[@]}" \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLLMBENCH_FUZZ=ON -DLLMBENCH_SANITIZE=address -DLLMBENCH_WERROR=OFF \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link"
fi
cmake --build "$build_dir" --target llmbench_fuzzers --parallel "${BUILD_JOBS:-2}"

# ---- seed corpora (regenerated each run; the same header prefixes as fuzz/regression_test.cc)
seeds="$build_dir/fuzz-seeds"
rm -rf "$seeds"
engines="tests/fixtures/engines"
# with_headers DEST FILE HEADER... : one seed per header, the header's bytes given as printf
# escapes.
with_headers() {
  local dest="$1" file="$2"; shift 2
  local i=0
  for h in "$@"; do
    { printf "$h"; cat "$file"; } > "$dest/$(basename "$file").$i"
    i=$((i + 1))
  done
}
framing_headers=('\x80\x00' '\x80\x03' '\x0f\x05' '\x00\x01')
protocol_headers=('\x00\x00\x00' '\x00\x00\x07' '\x00\x01\x00' '\x00\x02\x02' '\xc8\x00\x00'
                  '\xcc\x01\x05' '\x00\x10\x01' '\x00\x40\x00')
for t in "${all_targets[@]}"; do mkdir -p "$seeds/$t"; done
for f in "$engines"/*/*.sse; do with_headers "$seeds/sse_framing_fuzz" "$f" "${framing_headers[@]}"; done
for f in "$engines"/*/*.ndjson; do with_headers "$seeds/ndjson_framing_fuzz" "$f" "${framing_headers[@]}"; done
for f in "$engines"/ollama/*; do with_headers "$seeds/ollama_protocol_fuzz" "$f" "${protocol_headers[@]}"; done
for f in "$engines"/tgi/*; do with_headers "$seeds/tgi_protocol_fuzz" "$f" "${protocol_headers[@]}"; done
for f in "$engines"/*/*.sse "$engines"/*/*.json; do
  with_headers "$seeds/openai_protocol_fuzz" "$f" "${protocol_headers[@]}" '\x00\x06\x03' '\x00\x0a\x03' '\x00\x0c\x03'
done
cp examples/*.yaml "$seeds/scenario_loader_fuzz/"
for t in "${all_targets[@]}"; do
  if [ -d "fuzz/seeds/$t" ]; then cp fuzz/seeds/"$t"/* "$seeds/$t/" 2>/dev/null || true; fi
  if [ -d "fuzz/regressions/$t" ]; then cp fuzz/regressions/"$t"/* "$seeds/$t/" 2>/dev/null || true; fi
done
if [ "${FUZZ_BUILD_ONLY:-0}" = "1" ]; then
  echo "fuzz: built $build_dir; seeds in $seeds"
  exit 0
fi

# ---- run ------------------------------------------------------------------------------------
mkdir -p "$build_dir/fuzz-logs"
run_one() {
  local t="$1"
  mkdir -p "$build_dir/fuzz-corpus/$t" "fuzz/crashes/$t"
  local extra=()
  if [ -f "fuzz/dict/$t.dict" ]; then extra+=("-dict=fuzz/dict/$t.dict"); fi
  echo "fuzz: $t for ${seconds}s (log: $build_dir/fuzz-logs/$t.log)"
  set +e
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
    nice -n 10 "$build_dir/fuzz/$t" -max_total_time="$seconds" -max_len=16384 \
      -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
      -artifact_prefix="fuzz/crashes/$t/" "${extra[@]}" \
      "$build_dir/fuzz-corpus/$t" "$seeds/$t" > "$build_dir/fuzz-logs/$t.log" 2>&1
  local rc=$?
  set -e
  echo "fuzz: $t exited $rc; $(grep -E '^#[0-9]+.*DONE' "$build_dir/fuzz-logs/$t.log" | tail -1)"
  grep -E '^stat::number_of_executed_units' "$build_dir/fuzz-logs/$t.log" || true
  return 0
}
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
crashes=$(find fuzz/crashes -type f ! -name .gitignore 2>/dev/null | wc -l)
echo "fuzz: done; $crashes file(s) in fuzz/crashes/"
[ "$crashes" -eq 0 ]
