#!/usr/bin/env bash
# Installs the TLS tools of the HTTPS tests: testssl.sh (its command is `testssl`) to grade
# nginx's TLS, and NSS's certutil (libnss3-tools) to make Chromium trust Pebble's root in
# a temporary NSS database. testssl.sh is trixie's, of the current 3.2 line (bookworm has
# 3.0): a bash script whose dependencies bookworm has, so apt installs its .deb with
# bookworm's openssl, dig and hexdump. Idempotent: skipped when both are there.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=trixie-packages.sh
source "$(dirname "$0")/trixie-packages.sh"

line=3.2

if [[ $(dpkg-query -W -f '${Version}' testssl.sh 2>/dev/null) != "$line".* ]] \
  || ! command -v certutil >/dev/null; then
  debs=$(mktemp -d)
  download_trixie_packages "$debs" "testssl.sh"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$debs"/testssl.sh_*.deb \
    libnss3-tools >/dev/null
  rm -rf "$debs"
fi
testssl --version | sed 's/\x1b\[[0-9;]*m//g' | grep -m1 version
