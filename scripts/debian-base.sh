#!/usr/bin/env bash
# Makes Debian 12 (bookworm) root file systems with debootstrap, as tar files: the stand-ins for
# the `debian:12` and `debian:12-slim` base images deploy/Dockerfile names, for hosts that cannot
# pull them (no registry but Debian's packages reachable). scripts/container-test.sh imports them
# as those tags; tests/deploy/runtime_packages_test.sh runs the runtime stage's package install
# in a chroot of the slim one.
#
# Usage: scripts/debian-base.sh [--refresh]
#   Prints the two tar files' paths on stdout (debian:12 first, then debian:12-slim); progress
#   goes to stderr. They are cached in $LLMBENCH_CONTAINER_CACHE (default
#   ~/.cache/llmbench-container) and made again when this script changes, when they are older
#   than $LLMBENCH_BASE_MAX_DAYS days (default 30) or with --refresh.
#   Mirror: $DEBIAN_MIRROR (default http://deb.debian.org/debian). Needs root and debootstrap.
#
# What they hold: `debootstrap --variant=minbase bookworm` (essential packages and apt; about
# 90 packages), apt sources for bookworm, bookworm-updates and bookworm-security (deb822, as the
# official images have), no apt lists or package caches, an empty /etc/resolv.conf and
# /etc/hostname (the container engine provides them). The slim one also has the official slim
# images' dpkg path excludes (/etc/dpkg/dpkg.cfg.d/docker: no docs but copyright files, man
# pages, info, locales) with those files removed.
set -euo pipefail
cd "$(dirname "$0")/.."

refresh=false
case "${1:-}" in
  --refresh) refresh=true ;;
  "") ;;
  *) echo "usage: scripts/debian-base.sh [--refresh]" >&2; exit 2 ;;
esac

log() { echo "debian-base: $*" >&2; }
die() { echo "debian-base: FAIL: $*" >&2; exit 1; }

cache="${LLMBENCH_CONTAINER_CACHE:-$HOME/.cache/llmbench-container}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
max_days="${LLMBENCH_BASE_MAX_DAYS:-30}"
full="$cache/debian-12-minbase.tar"
slim="$cache/debian-12-slim-minbase.tar"
stamp="$cache/debian-base.stamp"
want="$(sha256sum "$0" | cut -d' ' -f1) $mirror"

fresh() {
  [ -f "$full" ] && [ -f "$slim" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
    [ -z "$(find "$full" -mtime +"$max_days" 2>/dev/null)" ]
}

if [ "$refresh" = false ] && fresh; then
  log "cached: $full, $slim"
  printf '%s\n%s\n' "$full" "$slim"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "debootstrap needs root (run as root, or with sudo)"
command -v debootstrap >/dev/null 2>&1 ||
  die "debootstrap is not installed (apt-get install debootstrap)"

mkdir -p "$cache"
work="$(mktemp -d "$cache/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"

log "debootstrap --variant=minbase bookworm from $mirror (a minute or two)"
start=$SECONDS
debootstrap --variant=minbase --components=main bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 ||
  die "debootstrap failed: $(tail -5 "$work/debootstrap.log")"

# apt sources as the official debian:12 image has them (deb822).
rm -f "$root/etc/apt/sources.list"
security="${mirror%/debian}/debian-security"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/var/cache/ldconfig/aux-cache
: > "$root/etc/resolv.conf"
: > "$root/etc/hostname"
tar --numeric-owner -C "$root" -cf "$work/full.tar" .

# The slim variant: the same dpkg excludes as the official -slim images (debuerreotype-slimify).
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# As Debian's official -slim images: no documentation, manuals or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/groff/* "$root"/usr/share/info/* "$root"/usr/share/linda/* \
  "$root"/usr/share/lintian/overrides/* "$root"/usr/share/locale/* "$root"/usr/share/man/*
tar --numeric-owner -C "$root" -cf "$work/slim.tar" .

mv "$work/full.tar" "$full"
mv "$work/slim.tar" "$slim"
echo "$want" > "$stamp"
log "made $full ($(du -m "$full" | cut -f1) MiB) and $slim ($(du -m "$slim" | cut -f1) MiB)" \
    "in $((SECONDS - start)) s"
printf '%s\n%s\n' "$full" "$slim"
