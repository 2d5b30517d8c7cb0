#!/usr/bin/env bash
# Installs every Debian 12 package llmbench needs to build, test and benchmark.
# Idempotent: packages already present are skipped by apt-get, and the package
# index is refreshed only when a package is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ cmake ninja-build ccache pkg-config git
  # control plane and schemas
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # libraries
  libabsl-dev libcurl4-openssl-dev libspdlog-dev libfmt-dev libsimdjson-dev
  libyaml-cpp-dev libcli11-dev libboost-dev libssl-dev
  # tests
  libgtest-dev libgmock-dev googletest curl python3
  # benchmarks: a real HTTP load tool
  wrk
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
