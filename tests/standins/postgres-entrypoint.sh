#!/usr/bin/env bash
# Entrypoint of the postgres stand-in (see build.sh): the part of the official image's
# interface that compose files use. Started as root, it hands PGDATA and the socket
# directory to the postgres user and runs itself again as that user; as postgres, it
# initialises an empty PGDATA from POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB (or
# their *_FILE variants) and POSTGRES_INITDB_ARGS, runs /docker-entrypoint-initdb.d/*.sql
# and *.sh once, then execs the server as PID 1 so `docker stop` reaches it directly.
set -euo pipefail

# `docker run postgres -c shared_buffers=256MB`: options for the server.
if [ $# -eq 0 ] || [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi

# VAR from the environment, or from the file named by VAR_FILE (Docker secrets).
file_env() {
  local var=$1 default=${2:-}
  local file_var="${var}_FILE"
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    echo "error: both $var and $file_var are set (they are exclusive)" >&2
    exit 1
  fi
  local value=$default
  if [ -n "${!var:-}" ]; then
    value=${!var}
  elif [ -n "${!file_var:-}" ]; then
    value=$(<"${!file_var}")
  fi
  export "$var=$value"
  unset "$file_var"
}

export PGDATA=${PGDATA:-/var/lib/postgresql/data}

# As root: directories owned by postgres (only what is not already, so a restart on a
# large volume is instant), then the same script again without any privilege.
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 00700 "$PGDATA"
  chmod 03775 /var/run/postgresql
  find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$0" "$@"
fi

# Started with --user: the directories are this user's to fix, if it can.
mkdir -p "$PGDATA" || :
chmod 00700 "$PGDATA" || :

init_database() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  local auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set;" \
      "set it (or POSTGRES_HOST_AUTH_METHOD=trust, which allows anyone in)" >&2
    exit 1
  fi

  local -a initdb_args
  read -ra initdb_args <<<"${POSTGRES_INITDB_ARGS:-}"
  if [ -n "$POSTGRES_PASSWORD" ]; then
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
      "${initdb_args[@]}"
  else
    initdb --username="$POSTGRES_USER" "${initdb_args[@]}"
  fi
  # initdb trusts the local socket and loopback; every other host must authenticate.
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

  # A server on the socket only, so nothing outside sees a half-made database.
  pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses='' -p 5432" --wait start
  local -a psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case $f in
      *.sh) echo "running $f"; bash "$f" ;;
      *.sql) echo "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *) echo "ignoring $f" ;;
    esac
  done
  pg_ctl --pgdata="$PGDATA" --mode=fast --wait stop
  echo "PostgreSQL init process complete; ready for start up."
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  init_database
fi
unset POSTGRES_PASSWORD
exec "$@"
