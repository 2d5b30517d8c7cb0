#!/usr/bin/env bash
# Configures and builds llmbench into build/ (Ninja + ccache when present).
# Usage: scripts/build.sh [extra cmake -D options...]
#   BUILD_DIR=build-asan scripts/build.sh -DLLMBENCH_SANITIZE=address
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD_DIR:-build}"
# Relative paths in ccache keys, so a fresh clone elsewhere reuses the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DLLMBENCH_WERROR="$werror" "$@"
elif [ $# -gt 0 ]; then
  cmake -S . -B "$build_dir" "$@"
fi
jobs="${BUILD_JOBS:-$(nproc)}"
cmake --build "$build_dir" --parallel "$jobs"
