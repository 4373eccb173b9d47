# shellcheck shell=bash
# Sourced by the .ci/provision-*.sh scripts: tools this bookworm machine lacks, or has too
# old, come from Debian trixie's packages. A private source list leaves the system's apt
# sources alone (see ../shared/docker-here.md).

# download_trixie_packages DIR PACKAGE[=VERSION]...: fetch the .debs into DIR.
download_trixie_packages() {
  local dir=$1 work
  shift
  work=$(mktemp -d)
  mkdir -p "$work/lists/partial" "$work/debs" "$dir"
  echo "deb http://deb.debian.org/debian trixie main" >"$work/trixie.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$work/trixie.list" -o "Dir::Etc::SourceParts=-"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/debs")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$dir" && apt-get "${apt_opts[@]}" download "$@" >/dev/null)
  rm -rf "$work"
}

# extract_trixie_packages ROOT PACKAGE[=VERSION]...: unpack the .debs under ROOT, not
# installed (for binaries that need nothing from trixie's libraries).
extract_trixie_packages() {
  local root=$1 debs deb
  shift
  debs=$(mktemp -d)
  download_trixie_packages "$debs" "$@"
  mkdir -p "$root"
  for deb in "$debs"/*.deb; do
    dpkg -x "$deb" "$root"
  done
  rm -rf "$debs"
}
