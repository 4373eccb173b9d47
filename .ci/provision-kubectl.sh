#!/usr/bin/env bash
# Installs kubectl (with its built-in kustomize) for the Kubernetes manifest tests
# (tests/test_scale_kubernetes.py): Debian trixie's package, pinned, so every run renders
# with the same kustomize. Into a directory of its own, not onto PATH, so it shadows no
# other kubectl on the machine. Idempotent: skipped when that version is there.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=trixie-packages.sh
source "$(dirname "$0")/trixie-packages.sh"

version=1.32.3+ds-2
kubectl=/usr/local/lib/django-docker/kubectl

if ! "$kubectl" version --client 2>/dev/null | grep -q "v${version%%+*}$"; then
  root=$(mktemp -d)
  extract_trixie_packages "$root" "kubectl=$version"
  install -D --mode 0755 "$root/usr/bin/kubectl" "$kubectl"
  rm -rf "$root"
fi
"$kubectl" version --client
