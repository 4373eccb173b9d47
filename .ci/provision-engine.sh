#!/usr/bin/env bash
# Installs and starts a Docker engine with the buildx and compose plugins on a fresh
# Debian bookworm machine. Idempotent: every step is skipped when already done.
# Why this shape: see ../shared/docker-here.md (no registry, Debian engine, trixie plugins).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=trixie-packages.sh
source "$(dirname "$0")/trixie-packages.sh"

plugins_dir=/usr/local/lib/docker/cli-plugins
apt_updated=""

apt_update_once() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=yes
  fi
}

install_engine() {
  if command -v dockerd >/dev/null && command -v debootstrap >/dev/null; then
    return
  fi
  apt_update_once
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
}

# Bookworm's own plugins are too old for `RUN --mount` and compose v2.
install_plugins() {
  if [ -x "$plugins_dir/docker-buildx" ] && [ -x "$plugins_dir/docker-compose" ]; then
    return
  fi
  local root
  root=$(mktemp -d)
  extract_trixie_packages "$root" docker-buildx docker-compose
  mkdir -p "$plugins_dir"
  cp "$root"/usr/libexec/docker/cli-plugins/* "$plugins_dir/"
  rm -rf "$root"
}

start_engine() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  setsid /usr/sbin/dockerd >/tmp/dockerd.log 2>&1 < /dev/null &
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "dockerd did not answer within 60 s; its log:" >&2
      tail -n 20 /tmp/dockerd.log >&2
      exit 1
    fi
    sleep 0.5
  done
}

install_engine
install_plugins
start_engine
docker buildx version
docker compose version
