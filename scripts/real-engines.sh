#!/usr/bin/env bash
# Runs the real-engine test suite (ctest label `real_engines`, tests/real_engines/) against
# real Ollama and real llama.cpp serving the tiny model that scripts/install-engines.sh built.
#
# Starts, on 127.0.0.1 ports chosen free at start:
#   - `ollama serve` (OLLAMA_NUM_PARALLEL=4, models and HOME in a temporary folder), then
#     `ollama create llmbench-tiny` from a Modelfile (FROM the GGUF, a plain TEMPLATE,
#     PARAMETER num_predict);
# Every engine computes on one thread: ggml's worker threads spin on a barrier after each op,
# and on a busy 2-core machine a descheduled peer turns every barrier into a time slice (we
# measured ~1 s per token with 2 threads under load, ~1.2 ms with 1).
#   - llama.cpp's `llama-server` (4 slots, continuous batching);
#   - llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`);
# passes their URLs to the tests in LLMBENCH_REAL_* variables, and stops all three at the end
# (also on failure or Ctrl-C). Exits with ctest's status.
#
# Usage:
#   scripts/real-engines.sh              build the suite (BUILD_DIR, default build) and run it
#   scripts/real-engines.sh --check      exit 0 when the engines are installed, else print why
#                                        and exit 3 (used by scripts/test.sh)
#   scripts/real-engines.sh --smoke      start the engines, generate 8 tokens on each, stop
#   scripts/real-engines.sh --example DIR
#                                        also run examples/real-engines.yaml (`llmbench
#                                        compare`, all three servers) into DIR
#   scripts/real-engines.sh --serve      start the engines, print their URLs, wait for Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
cache="${LLMBENCH_ENGINES_DIR:-$HOME/.cache/llmbench-engines}"
build_dir="${BUILD_DIR:-build}"
case "$build_dir" in /*) ;; *) build_dir="$repo/$build_dir" ;; esac
model_name=llmbench-tiny

mode=suite
example_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --check) mode=check ;;
    --smoke) mode=smoke ;;
    --serve) mode=serve ;;
    --example) shift; example_dir="${1:?--example needs a folder}" ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "real-engines.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

ollama="$cache/bin/ollama"
llama_server="$cache/llama.cpp-build/bin/llama-server"
lib_dir="$cache/llama.cpp-build/bin"
python="$cache/venv/bin/python"
model="$cache/models/tiny-llama.gguf"

# Why the engines cannot run, or nothing when they can.
missing() {
  [ -x "$ollama" ] || { echo "no $ollama"; return; }
  "$ollama" --version >/dev/null 2>&1 || { echo "$ollama does not run"; return; }
  [ -x "$llama_server" ] || { echo "no $llama_server"; return; }
  [ -x "$python" ] || { echo "no $python"; return; }
  LLAMA_CPP_LIB_PATH="$lib_dir" "$python" -c "import llama_cpp.server" >/dev/null 2>&1 ||
    { echo "llama_cpp.server does not import in $python"; return; }
  [ -f "$model" ] || { echo "no $model"; return; }
}

why="$(missing)"
if [ "$mode" = check ]; then
  if [ -n "$why" ]; then
    echo "real-engine suite: engines not installed: $why (run scripts/install-engines.sh)"
    exit 3
  fi
  exit 0
fi
if [ -n "$why" ]; then
  echo "real-engine suite: not run: engines not installed: $why (run scripts/install-engines.sh)" >&2
  exit 3
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

tmp="$(mktemp -d /tmp/llmbench-real-engines.XXXXXX)"
pids=()
cleanup() {
  # Each engine leads its own process group (setsid), so its children (Ollama's runner)
  # stop with it: SIGTERM to the group, up to 5 s, then SIGKILL.
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_http NAME URL LOGFILE PID: up to 120 s for a 200.
wait_http() {
  local name="$1" url="$2" logfile="$3" pid="$4"
  for _ in $(seq 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "real-engines: $name exited during startup; its log:" >&2
      tail -40 "$logfile" >&2
      exit 1
    fi
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" = 200 ]; then return 0; fi
    sleep 0.2
  done
  echo "real-engines: $name not ready at $url after 120 s; its log:" >&2
  tail -40 "$logfile" >&2
  exit 1
}

# --- Ollama
ollama_port="$(free_port)"
mkdir -p "$tmp/home" "$tmp/models"
export OLLAMA_HOST="127.0.0.1:$ollama_port"
HOME="$tmp/home" OLLAMA_MODELS="$tmp/models" OLLAMA_NUM_PARALLEL=4 OLLAMA_MAX_LOADED_MODELS=1 \
  OLLAMA_KEEP_ALIVE=-1 OLLAMA_CONTEXT_LENGTH=4096 OLLAMA_NOHISTORY=1 \
  setsid "$ollama" serve >"$tmp/ollama.log" 2>&1 &
pids+=($!)
wait_http ollama "http://$OLLAMA_HOST/" "$tmp/ollama.log" "${pids[-1]}"
cat >"$tmp/Modelfile" <<EOF
FROM $model
TEMPLATE """{{ if .System }}{{ .System }}
{{ end }}{{ .Prompt }}"""
PARAMETER num_predict 64
PARAMETER num_ctx 4096
PARAMETER num_thread 1
EOF
if ! HOME="$tmp/home" "$ollama" create "$model_name" -f "$tmp/Modelfile" >"$tmp/create.log" 2>&1; then
  echo "real-engines: ollama create failed:" >&2
  cat "$tmp/create.log" >&2
  exit 1
fi

# --- llama.cpp's llama-server: 4 slots of 2048 tokens.
llama_port="$(free_port)"
setsid "$llama_server" -m "$model" --host 127.0.0.1 --port "$llama_port" --alias "$model_name" \
  -c 8192 -np 4 -t 1 -tb 1 >"$tmp/llama-server.log" 2>&1 &
pids+=($!)
wait_http llama-server "http://127.0.0.1:$llama_port/health" "$tmp/llama-server.log" "${pids[-1]}"

# --- llama-cpp-python's server (one request at a time).
py_port="$(free_port)"
LLAMA_CPP_LIB_PATH="$lib_dir" setsid "$python" -m llama_cpp.server --model "$model" \
  --host 127.0.0.1 --port "$py_port" --model_alias "$model_name" --n_ctx 4096 --n_threads 1 --n_threads_batch 1 --interrupt_requests False \
  >"$tmp/llama-cpp-python.log" 2>&1 &
pids+=($!)
wait_http llama-cpp-python "http://127.0.0.1:$py_port/v1/models" "$tmp/llama-cpp-python.log" "${pids[-1]}"

export LLMBENCH_REAL_OLLAMA_URL="http://127.0.0.1:$ollama_port"
export LLMBENCH_REAL_LLAMA_SERVER_URL="http://127.0.0.1:$llama_port"
export LLMBENCH_REAL_LLAMA_CPP_PYTHON_URL="http://127.0.0.1:$py_port"
export LLMBENCH_REAL_MODEL="$model_name"
echo "real-engines: ollama $("$ollama" --version 2>&1 | sed -n 's/.*version is //p') at $LLMBENCH_REAL_OLLAMA_URL"
echo "real-engines: llama-server at $LLMBENCH_REAL_LLAMA_SERVER_URL"
echo "real-engines: llama-cpp-python server at $LLMBENCH_REAL_LLAMA_CPP_PYTHON_URL"

case "$mode" in
  smoke)
    fail=0
    out="$(curl -sf -H "Content-Type: application/json" "$LLMBENCH_REAL_OLLAMA_URL/api/generate" \
      -d "{\"model\":\"$model_name\",\"prompt\":\"hello\",\"stream\":false,\"options\":{\"num_predict\":8}}")" ||
      { echo "real-engines: ollama /api/generate failed" >&2; fail=1; }
    echo "$out" | grep -q '"eval_count":8' ||
      { echo "real-engines: ollama did not generate 8 tokens: $out" >&2; fail=1; }
    for url in "$LLMBENCH_REAL_LLAMA_SERVER_URL" "$LLMBENCH_REAL_LLAMA_CPP_PYTHON_URL"; do
      out="$(curl -sf -H "Content-Type: application/json" "$url/v1/completions" \
        -d "{\"model\":\"$model_name\",\"prompt\":\"hello\",\"max_tokens\":8}")" ||
        { echo "real-engines: $url/v1/completions failed" >&2; fail=1; }
      echo "$out" | grep -q '"completion_tokens":8' ||
        { echo "real-engines: $url did not generate 8 tokens: $out" >&2; fail=1; }
    done
    [ "$fail" = 0 ] && echo "real-engines: smoke check passed (8 tokens from each engine)"
    exit "$fail"
    ;;
  serve)
    echo "real-engines: serving; Ctrl-C stops all three"
    wait "${pids[0]}"
    exit 0
    ;;
esac

# --- The suite.
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  echo "real-engines: no build in $build_dir; run scripts/build.sh first (or set BUILD_DIR)" >&2
  exit 1
fi
cmake --build "$build_dir" --target real_engines_test llmbench llmbench-worker -j"${BUILD_JOBS:-2}" >/dev/null
status=0
ctest --test-dir "$build_dir" -L real_engines --output-on-failure || status=$?

if [ -n "$example_dir" ]; then
  mkdir -p "$example_dir"
  echo "real-engines: example comparison into $example_dir"
  # `compare` takes no --url: the scenario's placeholder URLs are replaced in a copy.
  sed -e "s|http://127.0.0.1:11434|$LLMBENCH_REAL_OLLAMA_URL|" \
      -e "s|http://127.0.0.1:8081|$LLMBENCH_REAL_LLAMA_SERVER_URL|" \
      -e "s|http://127.0.0.1:8000|$LLMBENCH_REAL_LLAMA_CPP_PYTHON_URL|" \
      examples/real-engines.yaml >"$tmp/scenario.yaml"
  LLMBENCH_WORKER_BIN="$build_dir/worker/llmbench-worker" \
    "$build_dir/coordinator/llmbench" compare "$tmp/scenario.yaml" \
    --local-workers 1 --out "$example_dir" || status=$?
fi
if [ "$status" = 0 ]; then
  echo "real-engine suite: passed"
else
  mkdir -p "$build_dir/real-engines-logs"
  cp "$tmp"/*.log "$build_dir/real-engines-logs/" 2>/dev/null || true
  echo "real-engine suite: FAILED (status $status); engine logs: $build_dir/real-engines-logs" >&2
fi
exit "$status"
