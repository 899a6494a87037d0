#!/usr/bin/env bash
# Build a Debian bookworm base image from Debian's packages alone (debootstrap + podman import),
# for hosts that cannot pull debian:bookworm-slim from a registry. Prints the image's name.
#
#   scripts/image-base.sh [NAME]        (default NAME: localhost/fangxin-base:bookworm)
#
# The root file system is debootstrap's minbase with Python 3.11 and the runtime's Debian
# packages (the Makefile's RUN_DEBS) already in, so the Containerfile's apt-get finds nothing
# missing and the build needs no Debian mirror. Its tarball is kept in $FANGXIN_IMAGE_CACHE
# (default /var/cache/fangxin-image), keyed by the package list: a rerun imports it at once.
# Environment: DEBIAN_MIRROR (default: the first Debian URI in /etc/apt/sources.list*),
# PODMAN (default: podman with vfs storage under the cache directory).
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${1:-localhost/fangxin-base:bookworm}
CACHE=${FANGXIN_IMAGE_CACHE:-/var/cache/fangxin-image}
PODMAN=${PODMAN:-podman --storage-driver=vfs --root $CACHE/storage --runroot $CACHE/run}
RUN_DEBS=$(sed -n 's/^RUN_DEBS := //p' Makefile)
# What the Containerfile's stages install (postgresql-client: the backups' pg_dump;
# fontconfig: fc-cache).
PACKAGES="python3 python3-venv ca-certificates postgresql-client fontconfig $RUN_DEBS"

mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$( (grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}';
          grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}') |
        grep -v security | head -n1)
  echo "${uri:-http://deb.debian.org/debian}"
}

mkdir -p "$CACHE"
key=$(echo "bookworm minbase $PACKAGES" | sha256sum | cut -c1-12)
tarball="$CACHE/base-bookworm-$key.tar"
if [ ! -s "$tarball" ]; then
  root=$(mktemp -d "$CACHE/root.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap bookworm (minbase + ${PACKAGES// /,}) from $(mirror)" >&2
  debootstrap --variant=minbase --include="${PACKAGES// /,}" bookworm "$root" "$(mirror)" >&2
  # What debian:bookworm-slim leaves out too: the package lists and the downloaded .debs.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  echo "deb $(mirror) bookworm main" > "$root/etc/apt/sources.list"
  tar -C "$root" --numeric-owner -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  find "$CACHE" -maxdepth 1 -name 'base-bookworm-*.tar' ! -name "${tarball##*/}" -delete
fi
$PODMAN import -q --change 'CMD ["/bin/bash"]' "$tarball" "$NAME" >/dev/null
echo "$NAME"
