#!/bin/sh
# Backups of the database (pg_dump's custom format, one consistent snapshot) and of the
# uploads (a tar of the media directory), each read back once written; and their restore.
# Runs in the Postgres image, whose pg_dump matches the server's version.
#   backup.sh now                       take a backup, then prune old ones
#   backup.sh schedule                  take one now and every BACKUP_INTERVAL_SECONDS
#   backup.sh list                      the backups, newest first
#   backup.sh restore [NAME] [--force]  restore NAME (default: the newest)
# A backup is a directory named for when it was taken (UTC), in BACKUP_DIR; it appears
# there whole or not at all.
set -eu

# The database: DATABASE_URL (postgres://USER:PASSWORD@HOST/NAME, as the app reads it), or
# the file DATABASE_URL_FILE names; else libpq's own variables (PGHOST, PGUSER, PGPASSWORD
# or the file PGPASSWORD_FILE names, PGDATABASE).
if [ -n "${DATABASE_URL_FILE:-}" ]; then DATABASE_URL=$(cat "$DATABASE_URL_FILE"); fi
if [ -n "${PGPASSWORD_FILE:-}" ]; then PGPASSWORD=$(cat "$PGPASSWORD_FILE") && export PGPASSWORD; fi
database=${DATABASE_URL:-${PGDATABASE:-}}
backups=${BACKUP_DIR:-/backups}
media=${MEDIA_DIR:-/media}
# Tables `manage.py migrate` fills by itself: rows only in these leave a database empty.
migrate_tables="'django_migrations', 'django_content_type', 'auth_permission'"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

fail() {
  echo "backup: $*" >&2
  exit 1
}

# The first line a failed command wrote to $scratch/errors: the one that says why.
why() {
  head -n 1 "$scratch/errors"
}

# The backups' names (the UTC time each was taken), newest first.
names() {
  for path in "$backups"/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9]*Z; do
    [ -d "$path" ] && basename "$path"
  done | sort -r
}

verify() {
  pg_restore --list "$1/database.dump" >/dev/null 2>"$scratch/errors" ||
    fail "$1/database.dump is not a readable pg_dump archive: $(why)"
  tar -tzf "$1/media.tar.gz" >/dev/null 2>"$scratch/errors" ||
    fail "$1/media.tar.gz is not a readable archive: $(why)"
}

take() {
  name=$(date -u +%Y-%m-%dT%H%M%SZ)
  partial="$backups/.partial-$name"
  mkdir -p "$partial"
  # A failed backup leaves no trace beside the ones before it.
  trap 'rm -rf "$partial" "$scratch"' EXIT
  pg_dump --dbname="$database" --format=custom --file="$partial/database.dump" \
    2>"$scratch/errors" ||
    fail "no backup taken, the database could not be dumped: $(why)"
  # What the directory holds, not the directory itself: a restore leaves that as it is.
  (cd "$media" && find . -mindepth 1 -maxdepth 1 -print0) |
    tar --null -czf "$partial/media.tar.gz" -C "$media" -T - 2>"$scratch/errors" ||
    fail "no backup taken, the uploads could not be archived: $(why)"
  verify "$partial"
  mv -T "$partial" "$backups/$name"
  trap 'rm -rf "$scratch"' EXIT
  # For the app's /metrics (backup_last_success_timestamp_seconds), replaced in one step.
  date +%s >"$backups/.last-success.new"
  mv "$backups/.last-success.new" "$backups/last-success"
  echo "backup: $name taken, $(du -sk "$backups/$name" | cut -f1) KiB" \
    "($(tar -tzf "$backups/$name/media.tar.gz" | grep -vc '/$') uploaded files)"
  prune
}

# Keeps the newest BACKUP_KEEP_LAST backups, and the newest backup of each of the last
# BACKUP_KEEP_WEEKLY ISO weeks; removes the rest.
prune() {
  count=0 weeks=0 seen=" "
  for name in $(names); do
    count=$((count + 1))
    week=$(date -u -d "${name%T*}" +%G-W%V)
    keep=no
    [ "$count" -le "${BACKUP_KEEP_LAST:-7}" ] && keep=yes
    case $seen in
      *" $week "*) ;;
      *)
        seen="$seen$week "
        weeks=$((weeks + 1))
        [ "$weeks" -le "${BACKUP_KEEP_WEEKLY:-4}" ] && keep=yes
        ;;
    esac
    if [ "$keep" = no ]; then
      rm -rf "${backups:?}/$name"
      echo "backup: $name pruned"
    fi
  done
}

schedule() {
  # Swarm and Kubernetes start this beside the database, not after it.
  until pg_isready --dbname="$database" --quiet; do sleep 2; done
  while :; do
    # A failed backup says why in the log; the next one is still taken on time.
    sh "$0" now || true
    sleep "${BACKUP_INTERVAL_SECONDS:-86400}"
  done
}

# The tables that hold rows besides what `migrate` writes, comma-separated; empty if none.
tables_with_rows() {
  psql --dbname="$database" -X -A -t -q -v ON_ERROR_STOP=1 -c "
    SELECT coalesce(string_agg(table_name, ', ' ORDER BY table_name), '')
    FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
      AND table_name NOT IN ($migrate_tables)
      AND (xpath('/row/n/text()', query_to_xml(format(
        'SELECT count(*) AS n FROM (SELECT FROM %I.%I LIMIT 1) AS one',
        table_schema, table_name), false, true, '')))[1]::text::int > 0"
}

restore() {
  name=latest force=
  for argument in "$@"; do
    case $argument in
      --force) force=yes ;;
      *) name=$argument ;;
    esac
  done
  if [ "$name" = latest ]; then
    name=$(names | head -n 1)
    [ -n "$name" ] || fail "nothing to restore: no backups in $backups"
  fi
  [ -f "$backups/$name/database.dump" ] ||
    fail "no backup named $name in $backups (\`backup.sh list\` shows them)"
  verify "$backups/$name"
  target=$(psql --dbname="$database" -XAt -c 'SELECT current_database()' 2>"$scratch/errors") ||
    fail "nothing restored, the database is unreachable: $(why)"
  holding=$(tables_with_rows 2>"$scratch/errors") || fail "nothing restored: $(why)"
  if [ -n "$holding" ] && [ -z "$force" ]; then
    fail "nothing restored: database $target holds data (in $holding);" \
      "add --force to replace it with $name"
  fi
  echo "backup: restoring $name: database $target replaced by its dump" \
    "(in one transaction), its uploads written into $media"
  pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error \
    --dbname="$database" "$backups/$name/database.dump" 2>"$scratch/errors" ||
    fail "nothing restored, the database is as it was: $(why)"
  tar -xzf "$backups/$name/media.tar.gz" -C "$media" 2>"$scratch/errors" ||
    fail "database restored, but not every upload: $(why)"
  echo "backup: $name restored"
}

case ${1:-} in
  now) take ;;
  schedule) schedule ;;
  list) names ;;
  restore)
    shift
    restore "$@"
    ;;
  *) fail "usage: backup.sh now | schedule | list | restore [NAME|latest] [--force]" ;;
esac
