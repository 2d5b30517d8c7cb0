#!/usr/bin/env bash
# The README's test command: installs the Debian packages, builds, and runs every test.
# Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build_dir="${BUILD_DIR:-build}"
# Integration tests start real processes on loopback; run two at a time on two cores.
# The real-engine suite (label real_engines) needs engines started for it: run below.
ctest --test-dir "$build_dir" --output-on-failure --parallel "${TEST_JOBS:-2}" \
  --label-exclude real_engines "$@"
# The real-engine suite runs when scripts/install-engines.sh has installed Ollama and llama.cpp
# on this machine (this script does not install them: it takes an hour on 2 cores).
if why="$(scripts/real-engines.sh --check)"; then
  BUILD_DIR="$build_dir" scripts/real-engines.sh
else
  echo "real-engine suite NOT run: ${why#real-engine suite: }"
fi
# The container test (ctest container_cluster, label container) runs above only where podman is
# installed (scripts/container-test.sh --install; CI does not have it); say which.
scripts/container-test.sh --check || true
