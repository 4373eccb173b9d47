#!/usr/bin/env bash
# Builds local stand-ins for the official images the baked project names, because this
# machine cannot pull from Docker Hub. Each is a Debian minbase root filesystem imported
# under the official name, so `FROM python:3.13-slim` resolves locally and nothing is ever
# pulled. Idempotent: a stand-in already in the engine is kept while what makes it is
# unchanged (a hash of its build function, the shared steps and its files is its label),
# and rebuilt alone when that has changed.
set -euo pipefail

mirror=http://deb.debian.org/debian
cache=${STANDIN_CACHE:-/var/cache/django-docker-standins}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$cache/debs"


# The tags the baked project names by default: cookiecutter.json is their one source.
answer() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$here/../../cookiecutter.json" "$1"
}
python_tag="python:$(answer python_version | python3 -c 'import ast, sys; print(ast.literal_eval(sys.stdin.read())[0])')-slim"
postgres_tag=$(answer __postgres_image)
nginx_tag=$(answer __nginx_image)
redis_tag=$(answer __redis_image)
# Images the tests run beside or in place of a default (test-images.json names them):
# Pebble (an ACME CA), moto (an S3) and aiosmtpd (an SMTP sink), which have no default;
# and certbot, whose release in cookiecutter.json (__certbot_image, the current one) this
# machine's PyPI does not serve yet: the tests run the newest it does, under its own
# version's tag, by CERTBOT_IMAGE.
test_image() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$here/test-images.json" "$1"
}
pebble_tag=$(test_image pebble)
certbot_tag=$(test_image certbot)
s3_tag=$(test_image s3)
smtp_tag=$(test_image smtp)

# A stand-in is the version its tag claims, or is not built: one tagged with another
# version would hide exactly the problems (missing features, fixed CVEs) of the real one.
check_version() {
  local tag=$1 actual=$2 claimed=${1#*:}
  claimed=${claimed%-slim}
  claimed=${claimed#v}
  case $actual in
    "$claimed" | "$claimed".*) ;;
    *)
      echo "stand-in $tag: Debian's package is version $actual, not $claimed" >&2
      exit 1
      ;;
  esac
}

# Whether the engine has this tag made by the calling build function as it reads now, with
# these files of this folder (each image's own entrypoint or config). Sets the revision
# import_rootfs labels the image with.
have_image() {
  local tag=$1 file
  shift
  revision=$({
    echo "$tag"
    declare -f "${FUNCNAME[1]}" make_rootfs import_rootfs pip_tool_rootfs
    for file in "$@"; do cat "$here/$file"; done
  } | sha256sum | cut -c1-16)
  [ "$(docker image inspect -f '{{index .Config.Labels "standin.revision"}}' "$tag" 2>/dev/null)" \
    = "$revision" ]
}

# A minbase root of a Debian suite (trixie unless a third argument names another) with the
# given packages, built under $cache. The downloaded .debs stay in $cache/debs, so the
# images share the base system's and a rebuild downloads nothing new; the root itself
# keeps no package files, docs, translations or apt lists, as the official slim Debian
# bases do not.
make_rootfs() {
  local root=$1 packages=$2 suite=${3:-trixie}
  rm -rf "$root"
  debootstrap --variant=minbase --cache-dir="$cache/debs" --include="$packages" "$suite" \
    "$root" "$mirror" >/dev/null
  find "$root"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias \
    -exec rm -rf '{}' +
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/info/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/var/log/*.log
}

# The root, imported under the official tag with the given Dockerfile instructions. This
# engine's `docker import -c` refuses STOPSIGNAL, so an image that needs one gets it from a
# build FROM the import (metadata only: the layer is shared, nothing is pulled).
import_rootfs() {
  local root=$1 tag=$2
  shift 2
  local changes=(-c 'ENV LANG=C.UTF-8' -c "LABEL standin.revision=$revision") late=() change
  for change in "$@"; do
    case $change in
      STOPSIGNAL*) late+=("$change") ;;
      *) changes+=(-c "$change") ;;
    esac
  done
  if [ ${#late[@]} -eq 0 ]; then
    tar -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
  else
    tar -C "$root" -c . | docker import "${changes[@]}" - "$tag-rootfs" >/dev/null
    printf '%s\n' "FROM $tag-rootfs" "${late[@]}" | docker build --quiet --tag "$tag" - >/dev/null
    docker image rm "$tag-rootfs" >/dev/null
  fi
  rm -rf "$root"
  echo "built stand-in $tag"
}

# python:<v>-slim: the interpreter, venv support and pip in /usr/local (where the official
# image keeps it, so `pip uninstall pip` behaves the same), no compiler, no headers.
build_python() {
  local tag=$python_tag root="$cache/python"
  have_image "$tag" && return
  make_rootfs "$root" python3,python3-venv,python-is-python3,ca-certificates,netbase,tzdata
  check_version "$tag" "$(chroot "$root" python3 -c 'import platform; print(platform.python_version())')"
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  local wheel
  wheel=$(cd "$root" && ls usr/share/python-wheels/pip-*.whl)
  # Debian's pip defaults a root install to /usr/local, like the official image.
  chroot "$root" python3 "/$wheel/pip" install --quiet --no-index --root-user-action=ignore "/$wheel"
  import_rootfs "$root" "$tag" 'CMD ["python3"]'
}

# postgres:<major>: Debian's server behind an entrypoint that speaks the official image's
# POSTGRES_* interface, drops root itself (setpriv: gosu is not in Debian's base) and
# stops fast on the official STOPSIGNAL, SIGINT.
build_postgres() {
  local tag=$postgres_tag root="$cache/postgres" major=${postgres_tag#*:}
  local bin=/usr/lib/postgresql/$major/bin
  have_image "$tag" postgres-entrypoint.sh && return
  make_rootfs "$root" "postgresql-$major"
  check_version "$tag" "$(chroot "$root" "$bin/postgres" --version | cut -d' ' -f3)"
  # The package's postinst made a cluster of its own; the entrypoint makes ours in PGDATA.
  rm -rf "$root/var/lib/postgresql/$major" "$root/etc/postgresql/$major"
  # No baked-in private key shared by every container (ssl stays off, as officially).
  rm -f "$root"/etc/ssl/private/ssl-cert-snakeoil.key "$root"/etc/ssl/certs/ssl-cert-snakeoil.pem
  # JIT is optional by design (without llvmjit.so the server quietly runs without it), and
  # LLVM with its bitcode is 150 MB, more than the rest of the server.
  rm -rf "$root/usr/lib/postgresql/$major/lib/"{llvmjit*,bitcode} \
    "$root"/usr/lib/x86_64-linux-gnu/libLLVM*
  # Every cluster initdb makes listens on all addresses, as in the official image.
  sed -ri "s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/" \
    "$root/usr/share/postgresql/$major/postgresql.conf.sample"
  install -d -m 0755 "$root"/docker-entrypoint-initdb.d
  # Modes as officially: 1777 lets a container started with --user initialise a new volume.
  chroot "$root" install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data
  chroot "$root" install -d -o postgres -g postgres -m 3775 /var/run/postgresql
  install -m 0755 "$here/postgres-entrypoint.sh" "$root"/usr/local/bin/docker-entrypoint.sh
  import_rootfs "$root" "$tag" \
    "ENV PATH=$bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "ENV PG_MAJOR=$major" 'ENV PGDATA=/var/lib/postgresql/data' \
    'VOLUME /var/lib/postgresql/data' 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    'STOPSIGNAL SIGINT' 'EXPOSE 5432' 'CMD ["postgres"]'
}

# nginx:<stable line>: Debian's nginx laid out as the official image is: an nginx user, its
# nginx.conf and default.conf, logs to the container's stdout/stderr, temporary files under
# /var/cache/nginx, so that it runs on a read-only root. curl and bash, as officially.
# From sid, which carries nginx's current stable line (trixie's 1.26 is past its support).
build_nginx() {
  local tag=$nginx_tag root="$cache/nginx"
  have_image "$tag" nginx.conf nginx-default.conf nginx-50x.html nginx-entrypoint.sh && return
  make_rootfs "$root" nginx,curl,ca-certificates sid
  check_version "$tag" "$(chroot "$root" nginx -v 2>&1 | sed 's|.*nginx/||')"
  chroot "$root" groupadd --system --gid 101 nginx
  chroot "$root" useradd --system --gid nginx --no-create-home --home-dir /nonexistent \
    --comment "nginx user" --shell /bin/false --uid 101 nginx
  rm -rf "$root"/etc/nginx/sites-* "$root"/etc/nginx/modules-* "$root"/var/www \
    "$root"/etc/nginx/conf.d/* "$root"/var/log/nginx/* "$root"/var/lib/nginx/*
  ln -s /usr/lib/nginx/modules "$root"/etc/nginx/modules
  ln -s /dev/stdout "$root"/var/log/nginx/access.log
  ln -s /dev/stderr "$root"/var/log/nginx/error.log
  install -d -m 0755 "$root"/var/cache/nginx
  install -m 0644 "$here/nginx.conf" "$root"/etc/nginx/nginx.conf
  install -m 0644 "$here/nginx-default.conf" "$root"/etc/nginx/conf.d/default.conf
  install -m 0644 "$here/nginx-50x.html" "$root"/usr/share/nginx/html/50x.html
  # The official entrypoint's interface: scripts in /docker-entrypoint.d run before nginx.
  install -d -m 0755 "$root"/docker-entrypoint.d
  install -m 0755 "$here/nginx-entrypoint.sh" "$root"/docker-entrypoint.sh
  import_rootfs "$root" "$tag" 'ENTRYPOINT ["/docker-entrypoint.sh"]' 'EXPOSE 80' \
    'STOPSIGNAL SIGQUIT' 'CMD ["nginx", "-g", "daemon off;"]'
}

# redis:<major>: Debian's redis-server run as the redis user in /data, reachable from other
# containers without a config file, as the official image is.
build_redis() {
  local tag=$redis_tag root="$cache/redis"
  have_image "$tag" redis-entrypoint.sh && return
  make_rootfs "$root" redis-server
  check_version "$tag" "$(chroot "$root" redis-server --version | sed -E 's/.* v=([^ ]+).*/\1/')"
  chroot "$root" install -d -o redis -g redis -m 0755 /data
  install -m 0755 "$here/redis-entrypoint.sh" "$root"/usr/local/bin/docker-entrypoint.sh
  import_rootfs "$root" "$tag" 'VOLUME /data' 'WORKDIR /data' \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'EXPOSE 6379' 'CMD ["redis-server"]'
}

# A Python tool from PyPI in a venv at /opt/<name> over trixie's Python, as the official
# images of such tools pip-install it over a Python base. pip trusts the proxy's CA only
# for the install: the host's bundle is copied in and deleted before the import.
pip_tool_rootfs() {
  local root=$1 requirement=$2 name=${2%%[=[]*}
  make_rootfs "$root" python3,python3-venv,openssl,ca-certificates,netbase
  chroot "$root" python3 -m venv "/opt/$name"
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root"/tmp/host-ca.crt
  # A clean environment: the host's PIP_* and REQUESTS_CA_BUNDLE name host paths, which
  # would point pip in the root at the wrong files. A proxy, if the host has one, is kept.
  local env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
    LANG=C.UTF-8) var
  for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    if [ -n "${!var:-}" ]; then env+=("$var=${!var}"); fi
  done
  if ! env -i "${env[@]}" chroot "$root" "/opt/$name/bin/pip" install --quiet --no-cache-dir \
    --disable-pip-version-check --cert /tmp/host-ca.crt "$requirement"; then
    echo "stand-in: pip could not install $requirement (is it released?)" >&2
    exit 1
  fi
  rm -f "$root"/tmp/host-ca.crt
  find "$root/opt/$name" -name __pycache__ -prune -exec rm -rf '{}' +
}

# certbot/certbot:v<version>: certbot from PyPI. Not Debian's package: that is an older
# release (sid has 5.5), and a stand-in must be the version its tag names. openssl's CLI,
# as officially (the baked project makes a temporary self-signed certificate with it).
build_certbot() {
  local tag=$certbot_tag root="$cache/certbot" version=${certbot_tag#*:v}
  have_image "$tag" && return
  pip_tool_rootfs "$root" "certbot==$version"
  ln -s /opt/certbot/bin/certbot "$root"/usr/local/bin/certbot
  check_version "$tag" "$(chroot "$root" certbot --version | cut -d' ' -f2)"
  import_rootfs "$root" "$tag" 'VOLUME /etc/letsencrypt /var/lib/letsencrypt' \
    'WORKDIR /opt/certbot' 'EXPOSE 80 443' 'ENTRYPOINT ["certbot"]'
}

# motoserver/moto:<version>: moto's server mode, an S3 (and more) that speaks the real
# protocol, for the media tests. The official image's interface: port 5000, all addresses.
build_moto() {
  local tag=$s3_tag root="$cache/moto" version=${s3_tag#*:}
  have_image "$tag" && return
  pip_tool_rootfs "$root" "moto[server]==$version"
  check_version "$tag" "$(chroot "$root" /opt/moto/bin/python -c 'import moto; print(moto.__version__)')"
  import_rootfs "$root" "$tag" 'EXPOSE 5000' \
    'ENTRYPOINT ["/opt/moto/bin/moto_server", "-H", "0.0.0.0"]'
}

# An SMTP sink for the email tests (no official image: tagged as the test tool it is):
# aiosmtpd accepts every message and prints it to stdout, sending nothing on.
build_smtp_sink() {
  local tag=$smtp_tag root="$cache/aiosmtpd" version=${smtp_tag#*:}
  have_image "$tag" && return
  pip_tool_rootfs "$root" "aiosmtpd==$version"
  check_version "$tag" "$(chroot "$root" /opt/aiosmtpd/bin/python -c 'import aiosmtpd; print(aiosmtpd.__version__)')"
  import_rootfs "$root" "$tag" 'ENV PYTHONUNBUFFERED=1' 'EXPOSE 1025' \
    'ENTRYPOINT ["/opt/aiosmtpd/bin/python", "-m", "aiosmtpd", "--nosetuid", "--listen", "0.0.0.0:1025", "--class", "aiosmtpd.handlers.Debugging", "stdout"]'
}

# letsencrypt/pebble:v<version>: Let's Encrypt's ACME test server, for the HTTPS tests only.
# Debian's package, from sid, which has its current release (trixie's is 2.6). It ships no
# config and no certificate for its own HTTPS: a test mounts both and passes -config.
build_pebble() {
  local tag=$pebble_tag root="$cache/pebble"
  have_image "$tag" && return
  make_rootfs "$root" pebble sid
  # `pebble -version` says "dev"; the package's upstream version is the true one.
  # shellcheck disable=SC2016 # dpkg-query's own ${Version}, not the shell's
  check_version "$tag" "$(chroot "$root" dpkg-query -W -f '${Version}' pebble | sed 's/[+~-].*//')"
  import_rootfs "$root" "$tag" 'ENTRYPOINT ["/usr/bin/pebble"]' 'EXPOSE 14000 15000'
}

build_python
build_postgres
build_nginx
build_redis
build_certbot
build_pebble
build_moto
build_smtp_sink
