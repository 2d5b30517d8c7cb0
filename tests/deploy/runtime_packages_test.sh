#!/usr/bin/env bash
# The container image's runtime stage, for real, without a container engine: a chroot of a fresh
# Debian 12 minbase slim root file system (scripts/debian-base.sh, debootstrap; the stand-in for
# debian:12-slim) runs deploy/install-runtime.sh exactly as the Dockerfile's RUN line does
# (apt-get update + install from Debian's mirror). Then, in that chroot:
#   - every package deploy/runtime-packages.txt lists is installed, and apt's lists are gone;
#   - as uid 10001 (the image's user) the three binaries given start (`--help`), and ldd finds
#     every library they load;
#   - control: with one library package removed (libyaml-cpp0.7), llmbench fails to start with
#     the dynamic loader's exact message (the check can fail).
# Before that, the package-list parser itself (install-runtime.sh --list) on crafted files:
# comments after names with the blanks before them (the `E: Unable to locate package
# ca-certificates` bug), tabs, CRLF, and a line that is not one package name.
#
# Usage: runtime_packages_test.sh LLMBENCH LLMBENCH_WORKER LLMBENCH_SIM
#   (ctest deploy_runtime_packages, label deploy). Pass `-` for the binaries to check only the
#   install (a sanitizer build's binaries need the sanitizer runtimes the image does not have).
# Exits 77 (ctest: skipped) when not root, or without debootstrap and no cached root file system.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
[ $# -eq 3 ] || { echo "usage: runtime_packages_test.sh LLMBENCH LLMBENCH_WORKER LLMBENCH_SIM" >&2; exit 2; }
binaries=("$@")

log() { echo "runtime-packages: $*"; }
fail() { echo "runtime-packages: FAIL: $*" >&2; exit 1; }
expect_eq() {  # WHAT WANT GOT
  [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
}

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# 1. The parser (no root needed).
install_runtime="$repo/deploy/install-runtime.sh"
printf '# a comment line\n\nlibfoo1\t\t# tab then comment\nca-certificates  # extra: spaces then comment\n  lead+ing.pkg-2  \nbar9\r\n' \
  > "$scratch/good.txt"
got="$("$install_runtime" --list "$scratch/good.txt" | tr '\n' ' ')"
expect_eq "--list of a file with comments, blanks, tabs and CRLF" \
  "libfoo1 ca-certificates lead+ing.pkg-2 bar9 " "$got"
printf 'libfoo1\nca-certificates extra\n' > "$scratch/bad.txt"
if got="$("$install_runtime" --list "$scratch/bad.txt" 2>&1)"; then
  fail "--list accepted a line with two words"
fi
expect_eq "--list of a line with two words" \
  "install-runtime: $scratch/bad.txt:2: 'ca-certificates extra' is not one Debian package name" "$got"
printf '# nothing\n\n' > "$scratch/empty.txt"
if got="$("$install_runtime" --list "$scratch/empty.txt" 2>&1)"; then fail "--list accepted an empty list"; fi
expect_eq "--list of an empty list" "install-runtime: $scratch/empty.txt lists no packages" "$got"
mapfile -t listed < <("$install_runtime" --list)
log "parser: comments, blanks and bad lines handled; deploy/runtime-packages.txt lists ${#listed[@]} packages"

# 2. The install, for real, in a chroot of a fresh slim root file system.
if [ "$(id -u)" -ne 0 ]; then
  echo "runtime-packages: SKIP: the chroot needs root"
  exit 77
fi
for tool in unshare chroot tar; do
  command -v "$tool" >/dev/null 2>&1 || { echo "runtime-packages: SKIP: no $tool"; exit 77; }
done
if ! bases="$("$repo/scripts/debian-base.sh" 2> "$scratch/base.err")"; then
  if grep -q 'debootstrap is not installed' "$scratch/base.err"; then
    echo "runtime-packages: SKIP: no Debian 12 root file system: debootstrap is not installed (scripts/install-deps.sh installs it)"
    exit 77
  fi
  fail "scripts/debian-base.sh: $(cat "$scratch/base.err")"
fi
slim_tar="$(sed -n 2p <<< "$bases")"
root="$scratch/root"
mkdir "$root"
tar --numeric-owner -C "$root" -xf "$slim_tar"
mkdir -p "$root/tmp/deploy"
cp "$repo/deploy/install-runtime.sh" "$repo/deploy/runtime-packages.txt" "$root/tmp/deploy/"
cp /etc/resolv.conf "$root/etc/resolv.conf"

# in_root [--as-user] COMMAND...: runs COMMAND in the chroot (as root, or as uid/gid 10001, the
# image's user), with /proc and /dev, in a private mount namespace (the mounts go away with it),
# with the image's PATH rather than the host's.
in_root() {
  local opts=()
  if [ "$1" = --as-user ]; then opts=(--userspec=10001:10001); shift; fi
  # shellcheck disable=SC2016  # expanded by that inner shell
  unshare --mount --propagation private --fork -- /bin/sh -c \
    'root="$1"; shift; mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
     PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin exec chroot "$@"' \
    sh "$root" "${opts[@]}" "$root" "$@"
}

log "chroot of $(basename "$slim_tar"): /tmp/deploy/install-runtime.sh (apt-get update + install)"
start=$SECONDS
in_root /tmp/deploy/install-runtime.sh > "$scratch/install.log" 2>&1 ||
  fail "install-runtime.sh in the chroot failed: $(tail -20 "$scratch/install.log")"
log "installed in $((SECONDS - start)) s"
missing=""
for p in "${listed[@]}"; do
  # shellcheck disable=SC2016  # dpkg-query's format, not the shell's
  status="$(in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
  [ "$status" = "install ok installed" ] || missing="$missing $p($status)"
done
[ -z "$missing" ] || fail "listed packages not installed:$missing"
lists="$(find "$root/var/lib/apt/lists" -mindepth 1 | head -3)"
[ -z "$lists" ] || fail "apt lists left in the image: $lists"
log "all ${#listed[@]} listed packages installed; apt lists removed"

if [ "${binaries[0]}" = - ]; then
  log "binaries not checked (none given)"
  exit 0
fi

# 3. The binaries, as the image's user.
mkdir -p "$root/usr/local/bin"
for b in "${binaries[@]}"; do
  [ -x "$b" ] || fail "no binary $b"
  cp "$b" "$root/usr/local/bin/"
done
for b in "${binaries[@]}"; do
  name="$(basename "$b")"
  ldd_out="$(in_root ldd "/usr/local/bin/$name" 2>&1)" || fail "ldd $name: $ldd_out"
  if grep -q 'not found' <<< "$ldd_out"; then fail "ldd $name in the runtime root: $(grep 'not found' <<< "$ldd_out")"; fi
  out="$(in_root --as-user "/usr/local/bin/$name" --help 2>&1)" ||
    fail "$name --help as uid 10001 in the runtime root: $out"
  log "$name: ldd finds every library; starts as uid 10001 (--help: $(head -1 <<< "$out"))"
done

# 4. Control: without libyaml-cpp0.7 the coordinator cannot start, and says why.
in_root dpkg --remove --force-depends libyaml-cpp0.7 > "$scratch/remove.log" 2>&1 ||
  fail "control: dpkg --remove libyaml-cpp0.7: $(cat "$scratch/remove.log")"
if got="$(in_root --as-user /usr/local/bin/llmbench --version 2>&1)"; then
  fail "control: llmbench started without libyaml-cpp0.7"
fi
expect_eq "control: llmbench without libyaml-cpp0.7" \
  "/usr/local/bin/llmbench: error while loading shared libraries: libyaml-cpp.so.0.7: cannot open shared object file: No such file or directory" \
  "$got"
log "control: without libyaml-cpp0.7, llmbench fails to load libyaml-cpp.so.0.7"
log "all checks passed"
