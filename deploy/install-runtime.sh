#!/usr/bin/env bash
# The container image's runtime stage (deploy/Dockerfile): installs the Debian 12 packages that
# hold the shared libraries llmbench, llmbench-worker and llmbench-sim load
# (deploy/runtime-packages.txt; scripts/check-deploy.sh --image-steps checks with ldd and dpkg -S
# that they cover every library), then empties apt's caches.
set -euo pipefail
cd "$(dirname "$0")"
mapfile -t packages < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' runtime-packages.txt)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"
apt-get clean
rm -rf /var/lib/apt/lists/*
