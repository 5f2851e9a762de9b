#!/usr/bin/env bash
# Starts throwaway services for the test suite on loopback, installing them from Debian's packages if
# missing. Usage: source scripts/services.sh && start_postgres   (exports CALIPER_TEST_PG_URL)
#                 stop_services
# Each service lives in $CALIPER_SERVICES_DIR on its port (CALIPER_PG_PORT, CALIPER_INFLUX_PORT). A
# start finds the one of its directory already running on its port and reuses it as it is (tests make
# their own databases in it); only when none runs is a new one made, from an empty directory. One that
# runs on another port, or another process on the port, is an error: making a new one would break
# whoever uses it.
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

# Whether pid $2 is the one listening on 127.0.0.1:$1 (ss -p shows every process's sockets to root).
listens_on() {
  command -v ss >/dev/null || apt_install iproute2
  [[ "$(ss -Hltnp "sport = :$1")" == *"pid=$2,"* ]]
}

# The pids listening on 127.0.0.1:$1, for an error message; empty when the port is free.
port_owners() {
  command -v ss >/dev/null || apt_install iproute2
  ss -Hltnp "sport = :$1" | sed -n 's/.*users:(\(.*\))$/\1/p' | tr '\n' ' '
}

# Reuse ($1: the service's name, $2: the pid its directory records, $3: its port): 0 when that process
# runs and listens on the port; 1 when nothing runs there and a new one can be made; otherwise says
# why not and returns 2.
running_here() {
  local name=$1 pid=$2 port=$3 owners
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    if listens_on "$port" "$pid"; then return 0; fi
    echo "services: the $name of $CALIPER_SERVICES_DIR runs (pid $pid: $(ps -o args= -p "$pid")) but not on port $port;" \
      "stop it (stop_services) or use its port" >&2
    return 2
  fi
  owners="$(port_owners "$port")"
  if [ -n "$owners" ]; then
    echo "services: port $port is taken by another process ($owners), not by the $name of $CALIPER_SERVICES_DIR" >&2
    return 2
  fi
  return 1
}

start_postgres() {
  if [ -z "$(pg_bindir)" ]; then
    echo "services: installing postgresql from Debian's packages" >&2
    apt_install postgresql
  fi
  local bin data run pid="" state=0
  bin="$(pg_bindir)"
  data="$CALIPER_SERVICES_DIR/pg-data"
  run="$CALIPER_SERVICES_DIR/pg-run"
  if [ -f "$data/postmaster.pid" ]; then pid="$(head -1 "$data/postmaster.pid")"; fi
  running_here postgresql "$pid" "$PG_PORT" || state=$?
  export CALIPER_TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  case $state in
    0)
      # Another shell's tests may be using it: re-creating it under them broke their runs.
      echo "services: postgresql already running on 127.0.0.1:$PG_PORT ($data, pid $pid); reused" >&2
      return 0
      ;;
    1) ;;
    *) return 1 ;;
  esac
  # A new cluster from an empty directory: tests never depend on what an earlier run left.
  rm -rf "$data" "$run"
  mkdir -p "$data" "$run"
  chown -R postgres:postgres "$CALIPER_SERVICES_DIR"
  runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres -A trust --no-sync >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -w -l "$CALIPER_SERVICES_DIR/pg.log" \
    -o "-h 127.0.0.1 -p $PG_PORT -k $run -c fsync=off -c full_page_writes=off -c max_connections=300" start >/dev/null
  echo "services: postgresql on 127.0.0.1:$PG_PORT" >&2
}

stop_postgres() {
  local bin
  bin="$(pg_bindir)"
  if [ -n "$bin" ] && [ -f "$CALIPER_SERVICES_DIR/pg-data/postmaster.pid" ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$CALIPER_SERVICES_DIR/pg-data" -m fast stop >/dev/null 2>&1 || true
  fi
}

INFLUX_PORT="${CALIPER_INFLUX_PORT:-58086}"

start_influxdb() {
  if ! command -v influxd >/dev/null; then
    echo "services: installing influxdb from Debian's packages" >&2
    apt_install influxdb
  fi
  local dir="$CALIPER_SERVICES_DIR/influx" pid="" state=0
  if [ -f "$dir/pid" ]; then pid="$(cat "$dir/pid")"; fi
  running_here influxdb "$pid" "$INFLUX_PORT" || state=$?
  case $state in
    0)
      export CALIPER_TEST_INFLUX_URL="http://127.0.0.1:$INFLUX_PORT"
      echo "services: influxdb already running on 127.0.0.1:$INFLUX_PORT ($dir, pid $pid); reused" >&2
      return 0
      ;;
    1) ;;
    *) return 1 ;;
  esac
  rm -rf "$dir"
  mkdir -p "$dir"
  # Everything on loopback, in a throwaway directory; no usage reporting (no network here anyway).
  INFLUXDB_META_DIR="$dir/meta" INFLUXDB_DATA_DIR="$dir/data" INFLUXDB_DATA_WAL_DIR="$dir/wal" \
    INFLUXDB_BIND_ADDRESS="127.0.0.1:$((INFLUX_PORT + 2))" INFLUXDB_HTTP_BIND_ADDRESS="127.0.0.1:$INFLUX_PORT" \
    INFLUXDB_REPORTING_DISABLED=true INFLUXDB_HTTP_LOG_ENABLED=false INFLUXDB_DATA_QUERY_LOG_ENABLED=false \
    INFLUXDB_HTTP_MAX_BODY_SIZE=0 \
    nohup influxd run >"$dir/influxd.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$INFLUX_PORT/ping" 2>/dev/null | grep -q 204; then
      export CALIPER_TEST_INFLUX_URL="http://127.0.0.1:$INFLUX_PORT"
      echo "services: influxdb on 127.0.0.1:$INFLUX_PORT" >&2
      return 0
    fi
    sleep 0.2
  done
  echo "services: influxdb did not start; see $dir/influxd.log" >&2
  return 1
}

stop_influxdb() {
  local pidfile="$CALIPER_SERVICES_DIR/influx/pid"
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}

# Debian's Chromium for the browser tests (playwright-core drives /usr/bin/chromium; no browser download).
ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "services: installing chromium from Debian's packages" >&2
    apt_install chromium
  fi
}

# The changes tests run real git (the master's poller and the Git step on the agent).
ensure_git() {
  if ! command -v git >/dev/null; then
    echo "services: installing git from Debian's packages" >&2
    apt_install git
  fi
}

# Buildbot 3.7 (Debian's) for the side-by-side benchmark (bench/compare, and its smoke test).
ensure_buildbot() {
  if ! command -v buildbot >/dev/null || ! command -v buildbot-worker >/dev/null; then
    echo "services: installing buildbot and buildbot-worker from Debian's packages" >&2
    apt_install buildbot buildbot-worker
  fi
}

# promtool (Debian's prometheus package) checks the agent's /metrics text (test/integration/agent-metrics.test.ts).
ensure_promtool() {
  if ! command -v promtool >/dev/null; then
    echo "services: installing promtool (prometheus) from Debian's packages" >&2
    apt_install prometheus
  fi
}

stop_services() {
  stop_postgres
  stop_influxdb
}
