#!/usr/bin/env bash
# The container image's build stage (deploy/Dockerfile runs it after
# `scripts/install-deps.sh --build-only`): builds the three binaries with the repository's own
# scripts/build.sh (tests off) and installs them, stripped, under PREFIX with `cmake --install`.
# scripts/check-deploy.sh --image-steps runs this same script on a host.
# Usage: deploy/build-stage.sh PREFIX        (build folder: $BUILD_DIR, default build-image)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:?usage: deploy/build-stage.sh PREFIX}"
export BUILD_DIR="${BUILD_DIR:-build-image}"
scripts/build.sh -DLLMBENCH_BUILD_TESTS=OFF
cmake --install "$BUILD_DIR" --prefix "$prefix" --strip
