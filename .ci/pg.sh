#!/usr/bin/env bash
# pg.sh starts a throwaway PostgreSQL cluster for tests and tools, installing
# PostgreSQL from Debian's packages when the machine has none. Source it:
#   . .ci/pg.sh   # exports BILLD_TEST_POSTGRES_URL and stops the cluster on exit
# PGPORT may be set beforehand (default: the first free port from 5433).
set -euo pipefail

if ! ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "pg.sh: installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
# A free port, so several throwaway clusters (parallel sessions, tools) can coexist.
if [ -z "${PGPORT:-}" ]; then
  for PGPORT in $(seq 5433 5533); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null || break
  done
fi
PGTMP=$(mktemp -d /tmp/billd-pg.XXXXXX)
billd_pg_stop() { pgrun "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$PGTMP"; }
trap billd_pg_stop EXIT
chown postgres:postgres "$PGTMP"
# PostgreSQL refuses to run as root; run it as the postgres user when we are root.
pgrun() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pgrun "$PGBIN/initdb" -D "$PGTMP/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
pgrun "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 \
  -o "-p $PGPORT -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
pgrun "$PGBIN/createdb" -h "$PGTMP" -p "$PGPORT" -U postgres billd_test
export BILLD_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PGPORT/billd_test?sslmode=disable"
export BILLD_PG_ADMIN_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable"
echo "pg.sh: PostgreSQL on 127.0.0.1:$PGPORT ($BILLD_TEST_POSTGRES_URL)" >&2
