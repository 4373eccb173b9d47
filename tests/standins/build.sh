#!/usr/bin/env bash
# Builds local stand-ins for the official images the baked project names, because this
# machine cannot pull from Docker Hub. Each is a Debian trixie minbase root filesystem
# imported under the official name, so `FROM python:3.13-slim` resolves locally and
# nothing is ever pulled. Idempotent: an image already in the engine is kept.
set -euo pipefail

mirror=http://deb.debian.org/debian
cache=${STANDIN_CACHE:-/var/cache/django-docker-standins}
mkdir -p "$cache"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# A minbase root with the given packages; the debootstrap tarball is cached so a second
# machine run only re-imports.
make_rootfs() {
  local root=$1 packages=$2
  rm -rf "$root"
  debootstrap --variant=minbase --include="$packages" trixie "$root" "$mirror" >/dev/null
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/var/cache/apt/*.bin
}

# python:<v>-slim: the interpreter, venv support and pip in /usr/local (where the official
# image keeps it, so `pip uninstall pip` behaves the same), no compiler, no headers.
build_python() {
  local tag=python:3.13-slim root="$cache/python"
  have_image "$tag" && return
  make_rootfs "$root" python3,python3-venv,python-is-python3,ca-certificates,netbase,tzdata
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  local wheel
  wheel=$(cd "$root" && ls usr/share/python-wheels/pip-*.whl)
  # Debian's pip defaults a root install to /usr/local, like the official image.
  chroot "$root" python3 "/$wheel/pip" install --quiet --no-index --root-user-action=ignore "/$wheel"
  tar -C "$root" -c . | docker import -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' - "$tag" >/dev/null
  rm -rf "$root"
  echo "built stand-in $tag"
}

build_python
