#!/bin/sh
# Entrypoint of the redis stand-in (see build.sh), after the official image's: started
# as root, it gives /data to the redis user (touching only what is not already theirs,
# so no CHOWN capability is needed on a volume the image populated) and runs itself again
# as redis; then it execs the command as PID 1, so `docker stop` reaches the server.
set -eu

# `docker run redis --appendonly yes` or `docker run redis /path/redis.conf`.
if [ $# -eq 0 ] || [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --clear-groups -- "$0" "$@"
fi

if [ "$1" = redis-server ]; then
  # The official build turns protected mode off by default, so that other containers can
  # connect without a config file; Debian's binary keeps it on. Without a config file
  # (the first argument of redis-server, if any), say it on the command line, before the
  # caller's own options so that theirs win.
  if [ $# -eq 1 ] || [ "${2#-}" != "$2" ]; then
    shift
    set -- redis-server --protected-mode no "$@"
  fi
  # Files the server writes are its own alone, as under the official image's systemd unit.
  if [ "$(umask)" = 0022 ]; then
    umask 0077
  fi
fi

exec "$@"
