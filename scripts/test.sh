#!/usr/bin/env bash
# The README's test command: installs the Debian packages, builds, and runs every test.
# Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build_dir="${BUILD_DIR:-build}"
# Integration tests start real processes on loopback; run two at a time on two cores.
ctest --test-dir "$build_dir" --output-on-failure --parallel "${TEST_JOBS:-2}" "$@"
