# shellcheck shell=bash
# Sourced by the .ci/provision-*.sh scripts: tools this bookworm machine lacks, or has too
# old, come from Debian trixie's packages. A private source list leaves the system's apt
# sources alone, and the packages are unpacked, not installed (see ../shared/docker-here.md).

# extract_trixie_packages ROOT PACKAGE[=VERSION]...: unpack the .debs under ROOT.
extract_trixie_packages() {
  local root=$1 work
  shift
  work=$(mktemp -d)
  mkdir -p "$work/lists/partial" "$work/debs" "$root"
  echo "deb http://deb.debian.org/debian trixie main" >"$work/trixie.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$work/trixie.list" -o "Dir::Etc::SourceParts=-"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/debs")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work/debs" && apt-get "${apt_opts[@]}" download "$@" >/dev/null)
  local deb
  for deb in "$work"/debs/*.deb; do
    dpkg -x "$deb" "$root"
  done
  rm -rf "$work"
}
