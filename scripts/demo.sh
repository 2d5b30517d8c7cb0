#!/usr/bin/env bash
# The README's main job: installs packages, builds, starts llmbench-sim on localhost, runs the
# default scenario (examples/sim.yaml) with local workers against it, prints the summary table
# and writes results/<run-id>/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build_dir="${BUILD_DIR:-build}"

sim_log="$(mktemp)"
"$build_dir/sim/llmbench-sim" --listen vllm=127.0.0.1:0 --listen ollama=127.0.0.1:0 \
  --listen tgi=127.0.0.1:0 --jitter 0.05 >"$sim_log" 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; rm -f "$sim_log"' EXIT
for _ in $(seq 100); do
  grep -q "^listening tgi" "$sim_log" && break
  sleep 0.1
done
url_of() { grep "^listening $1 " "$sim_log" | awk '{print $3}'; }
vllm_url="$(url_of vllm)"
if [ -z "$vllm_url" ]; then
  echo "demo: llmbench-sim did not start:" >&2; cat "$sim_log" >&2; exit 1
fi
echo "demo: llmbench-sim is serving vllm at $vllm_url, ollama at $(url_of ollama), tgi at $(url_of tgi)"

"$build_dir/coordinator/llmbench" run examples/sim.yaml --url "sim-vllm=$vllm_url" "$@"
