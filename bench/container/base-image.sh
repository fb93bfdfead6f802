#!/usr/bin/env bash
# Makes debian:bookworm-slim locally, for machines that reach a Debian mirror but no registry.
#
#   bench/container/base-image.sh [TAG]        # default TAG debian:bookworm-slim
#
# debootstrap --variant=minbase bookworm from the mirror this machine's apt already uses (read
# from /etc/apt/sources.list or /etc/apt/sources.list.d/*), apt caches and lists removed, then
# `docker import` (or $CONTAINER_ENGINE import). Does nothing if TAG already exists.
set -euo pipefail
tag="${1:-debian:bookworm-slim}"
engine="${CONTAINER_ENGINE:-docker}"
[ "$engine" = docker ] && [ -x /usr/bin/docker ] && engine=/usr/bin/docker

if "$engine" image inspect "$tag" >/dev/null 2>&1; then
  echo "base-image: $tag exists"
  exit 0
fi
# The first Debian (not -security, not third-party) URI apt is configured with.
mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
  grep -E '^[[:space:]]*(deb|URIs:)' | grep -oE 'https?://[^ ]+/debian/?$|https?://[^ ]+/debian/? ' |
  tr -d ' ' | grep -v security | head -1 || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
command -v debootstrap >/dev/null || { echo "base-image: apt-get install debootstrap" >&2; exit 1; }
root="$(mktemp -d /tmp/bookworm-root.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "base-image: debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.log" 2>&1 ||
  { tail -20 "$root.log" >&2; exit 1; }
rm -f "$root.log"
# What the official slim image does: no caches, no package lists, the mirror in sources.list.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
       "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/log/*.log
echo "deb $mirror bookworm main" > "$root/etc/apt/sources.list"
tar -C "$root" -c . | "$engine" import - "$tag" >/dev/null
echo "base-image: imported $tag ($(du -sh "$root" | cut -f1) unpacked)"
