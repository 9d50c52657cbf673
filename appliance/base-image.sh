#!/usr/bin/env bash
# base-image.sh — make sure the engine has debian:bookworm-slim, the base of every Flowly image.
# Pulled where a registry answers; otherwise made with debootstrap (minbase) from the Debian
# mirror apt already uses, and imported (about a minute, once).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$ROOT_DIR/scripts/lib.sh"

IMAGE=debian:bookworm-slim
log() { printf '[base-image] %s\n' "$*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE is present"
  exit 0
fi
if timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then
  log "pulled $IMAGE"
  exit 0
fi
log "no registry answers; making $IMAGE with debootstrap"
install_packages_if_missing debootstrap=debootstrap
mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
[ -n "$mirror" ] || mirror="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
rootfs="$(mktemp -d /var/tmp/flowly-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
# Like the official slim image: no apt lists or caches.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
tar -C "$rootfs" -c . | docker import - "$IMAGE" >/dev/null
log "made $IMAGE from $mirror"
