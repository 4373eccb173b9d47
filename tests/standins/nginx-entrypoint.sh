#!/bin/sh
# Entrypoint of the nginx stand-in (see build.sh), honouring the official image's
# interface: when the command is nginx (or nginx-debug), every executable *.sh under
# /docker-entrypoint.d runs and every executable *.envsh is sourced, in version order; the
# first that fails stops the container with its status (and nothing more to say). Then the command runs as PID 1.
# Progress goes to stdout unless NGINX_ENTRYPOINT_QUIET_LOGS is set. Unlike the official
# script, the loop is not in a pipeline's subshell, so what an .envsh exports reaches nginx.
set -eu

say() {
  if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
    echo "$0: $*"
  fi
}

dir=/docker-entrypoint.d

if [ "${1:-}" = nginx ] || [ "${1:-}" = nginx-debug ]; then
  scripts=$(find "$dir/" -follow -type f -print 2>/dev/null | sort -V)
  if [ -z "$scripts" ]; then
    say "No files found in $dir/, skipping configuration"
  else
    say "$dir/ is not empty, will attempt to perform configuration"
    say "Looking for shell scripts in $dir/"
    # Split into one name a line, not globbed (a name with a newline is not supported).
    old_ifs=$IFS
    IFS='
'
    set -f
    for script in $scripts; do
      IFS=$old_ifs
      set +f
      status=0
      case $script in
        *.envsh)
          if [ -x "$script" ]; then
            say "Sourcing $script"
            # shellcheck disable=SC1090
            . "$script" || status=$?
          else
            say "Ignoring $script, not executable"
          fi
          ;;
        *.sh)
          if [ -x "$script" ]; then
            say "Launching $script"
            "$script" || status=$?
          else
            say "Ignoring $script, not executable"
          fi
          ;;
        *) say "Ignoring $script" ;;
      esac
      # Silent, as officially: the script has said what is wrong.
      if [ "$status" -ne 0 ]; then
        exit "$status"
      fi
    done
    IFS=$old_ifs
    say "Configuration complete; ready for start up"
  fi
fi

exec "$@"
