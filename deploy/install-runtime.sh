#!/usr/bin/env bash
# The container image's runtime stage (deploy/Dockerfile): installs the Debian 12 packages that
# hold the shared libraries llmbench, llmbench-worker and llmbench-sim load
# (deploy/runtime-packages.txt; scripts/check-deploy.sh --image-steps checks with ldd and dpkg -S
# that they cover every library), then empties apt's caches.
#
# Usage: deploy/install-runtime.sh [--list] [PACKAGES_FILE]
#   PACKAGES_FILE  default: runtime-packages.txt beside this script. One package a line; `#`
#                  starts a comment (whole line or after the name); blank lines are ignored.
#   --list         print the package names, one a line, and install nothing (the one parser
#                  of the file: scripts/check-deploy.sh and tests/deploy use it too).
# tests/deploy/runtime_packages_test.sh runs this in a chroot of a fresh debian:12-slim.
set -euo pipefail

list_only=false
if [ "${1:-}" = "--list" ]; then list_only=true; shift; fi
file="${1:-$(dirname "$0")/runtime-packages.txt}"
[ $# -le 1 ] || { echo "usage: deploy/install-runtime.sh [--list] [PACKAGES_FILE]" >&2; exit 2; }
[ -r "$file" ] || { echo "install-runtime: cannot read $file" >&2; exit 1; }

# Strip comments with the blanks before them, and surrounding blanks; each line left must be
# exactly one Debian package name (policy 5.6.1: lower case letters, digits, + - .).
packages=()
line_no=0
while IFS= read -r line || [ -n "$line" ]; do
  line_no=$((line_no + 1))
  line="${line%%#*}"
  line="${line#"${line%%[![:space:]]*}"}"
  line="${line%"${line##*[![:space:]]}"}"
  [ -n "$line" ] || continue
  if [[ ! "$line" =~ ^[a-z0-9][a-z0-9+.-]+$ ]]; then
    echo "install-runtime: $file:$line_no: '$line' is not one Debian package name" >&2
    exit 1
  fi
  packages+=("$line")
done < "$file"
[ ${#packages[@]} -gt 0 ] || { echo "install-runtime: $file lists no packages" >&2; exit 1; }

if [ "$list_only" = true ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"
apt-get clean
rm -rf /var/lib/apt/lists/*
