#!/usr/bin/env bash
# Starts throwaway services for the test suite on loopback, installing them from Debian's packages if
# missing. Usage: source scripts/services.sh && start_postgres   (exports CALIPER_TEST_PG_URL)
#                 stop_services
set -euo pipefail

CALIPER_SERVICES_DIR="${CALIPER_SERVICES_DIR:-/tmp/caliper-services}"
PG_PORT="${CALIPER_PG_PORT:-55432}"

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

start_postgres() {
  if [ -z "$(pg_bindir)" ]; then
    echo "services: installing postgresql from Debian's packages" >&2
    apt_install postgresql
  fi
  local bin data run
  bin="$(pg_bindir)"
  data="$CALIPER_SERVICES_DIR/pg-data"
  run="$CALIPER_SERVICES_DIR/pg-run"
  # A throwaway cluster each time: tests never depend on what an earlier run left.
  if [ -f "$data/postmaster.pid" ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$data" "$run"
  mkdir -p "$data" "$run"
  chown -R postgres:postgres "$CALIPER_SERVICES_DIR"
  runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres -A trust --no-sync >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -w -l "$CALIPER_SERVICES_DIR/pg.log" \
    -o "-h 127.0.0.1 -p $PG_PORT -k $run -c fsync=off -c full_page_writes=off -c max_connections=300" start >/dev/null
  export CALIPER_TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "services: postgresql on 127.0.0.1:$PG_PORT" >&2
}

stop_postgres() {
  local bin
  bin="$(pg_bindir)"
  if [ -n "$bin" ] && [ -f "$CALIPER_SERVICES_DIR/pg-data/postmaster.pid" ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$CALIPER_SERVICES_DIR/pg-data" -m fast stop >/dev/null 2>&1 || true
  fi
}

stop_services() {
  stop_postgres
}
