#!/bin/sh
# First start: initdb with the superuser password from $POSTGRES_PASSWORD, scram-sha-256 for
# every network connection, and the `flowly` database with pgvector. Every start: exec postgres
# with production durability (fsync and synchronous_commit on: the built-in defaults).
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username=postgres --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 "$PGDATA"
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /var/run/postgresql" -w start
  psql -h /var/run/postgresql -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "create database flowly" -c "\\c flowly" -c "create extension if not exists vector"
  pg_ctl -D "$PGDATA" -m fast -w stop
fi
exec postgres -D "$PGDATA" -k /var/run/postgresql -c listen_addresses='*' \
  -c max_connections="${POSTGRES_MAX_CONNECTIONS:-200}" \
  -c shared_buffers="${POSTGRES_SHARED_BUFFERS:-256MB}" \
  -c fsync=on -c synchronous_commit=on -c full_page_writes=on
