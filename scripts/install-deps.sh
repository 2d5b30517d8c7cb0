#!/usr/bin/env bash
# Installs every Debian 12 package llmbench needs to build, test and benchmark.
# Idempotent: packages already present are skipped by apt-get, and the package
# index is refreshed only when a package is missing. Then installs web/'s npm packages
# (the charting library inlined into report.html) with `npm ci --prefix web`, only when
# web/node_modules is missing or older than web/package-lock.json.
#
# Usage: scripts/install-deps.sh [--build-only]
#   --build-only  only what building the three binaries needs (the container image's build
#                 stage, deploy/Dockerfile): no test, benchmark or browser packages, and no
#                 deployment validators.
# Without it, also installs the deployment validators (scripts/check-deploy.sh --install-tools:
# a Python venv under ~/.cache, skipped quietly when that cannot be done).
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=false
case "${1:-}" in
  --build-only) build_only=true ;;
  "") ;;
  *) echo "usage: scripts/install-deps.sh [--build-only]" >&2; exit 2 ;;
esac

build_packages=(
  # toolchain
  build-essential g++ cmake ninja-build ccache pkg-config git
  # control plane and schemas
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # libraries
  libabsl-dev libcurl4-openssl-dev libspdlog-dev libfmt-dev libsimdjson-dev
  libyaml-cpp-dev libcli11-dev libboost-dev libssl-dev
  # tokenizer.json (coordinator/tokenizer_json.cc): split regexes and Unicode normalizers
  libpcre2-dev libicu-dev
  # report.html's charting library comes from npm (web/) at build time
  nodejs ca-certificates
)
test_packages=(
  # tests
  libgtest-dev libgmock-dev googletest curl python3
  # multi-host tests (tests/multihost): network namespaces and veth links
  iproute2
  # tests/security: makes its own CA and certificates with the openssl command line
  openssl
  # tests/worker engine_tls_test: nghttpx, a TLS + HTTP/2 reverse proxy in front of the sim
  nghttp2-proxy
  # benchmarks: a real HTTP load tool
  wrk
  # report.html: npm installs the charting library (web/); a headless browser tests the page
  nodejs chromium fonts-dejavu-core
  # deployment checks (scripts/check-deploy.sh): a venv for the manifest validators
  python3-venv
  # tests/deploy/runtime_packages_test.sh: a Debian 12 root file system for the image's runtime
  # stage (scripts/debian-base.sh)
  debootstrap
)
packages=("${build_packages[@]}")
if [ "$build_only" = false ]; then packages+=("${test_packages[@]}"); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# npm ships inside some nodejs builds and as its own Debian package in others.
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# web/node_modules, pinned by web/package-lock.json. The stamp holds the lock file's hash
# so a changed lock reinstalls.
lock_hash="$(sha256sum web/package-lock.json | cut -d' ' -f1)"
stamp=web/node_modules/.llmbench-lock.sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  echo "install-deps: web/node_modules up to date"
else
  echo "install-deps: npm ci --prefix web"
  npm ci --prefix web --no-audit --no-fund
  echo "$lock_hash" > "$stamp"
fi

# Deployment validators (kubernetes-validate, dockerfile-parse, composecheck) for the `deploy`
# ctest; idempotent and cheap once installed. Failure here only makes that test skip.
if [ "$build_only" = false ]; then
  scripts/check-deploy.sh --install-tools || echo "install-deps: deployment validators not installed (the deploy test will skip)"
fi
