#!/usr/bin/env bash
# faults-test.sh — faults under load: two `flowly serve` nodes and a `flowly worker` under a
# verifying traffic run, while a node and the worker are killed (SIGKILL) and restarted, Redis
# and PostgreSQL are restarted, and the link between a node and PostgreSQL stalls; each fault's
# recovery time is measured and what clients saw is checked (no event lost or repeated, every
# acknowledged send seen, every assistant job done once). The test itself is
# crates/flowly-traffic/tests/faults/main.rs; this script gives it what it needs.
#
# Its own PostgreSQL (+pgvector) and Redis, on loopback ports of their own, with their data in a
# work directory (scripts/dev-services.sh with FLOWLY_SERVICES_DIR; Redis with its append-only
# file, as in the appliance): the test restarts them, so they are never the shared dev
# services other steps use. Both are stopped, and the work directory removed, at the end.
# Bounded: every fault waits at most 30 s for recovery; the whole step takes about 1.5 minutes
# after the build.
#
#   scripts/faults-test.sh            (scripts/test.sh runs it as the step "faults under load")
#   FLOWLY_FAULTS_KEEP=1 ...          keep the work directory (process logs, faults.md)
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowly/target}"
log() { printf '[faults] %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

[ -d "$ROOT_DIR/.cache/models/all-minilm-l6-v2" ] || scripts/fetch-models.sh >&2

# Under .cache, which dev-services.sh already lets PostgreSQL's user traverse.
mkdir -p "$ROOT_DIR/.cache"
WORK="$(mktemp -d "$ROOT_DIR/.cache/faults.XXXXXX")"
export FLOWLY_SERVICES_DIR="$WORK/services" FLOWLY_PG_PORT FLOWLY_REDIS_PORT FLOWLY_REDIS_APPENDONLY=yes
FLOWLY_PG_PORT="$(free_port)"
FLOWLY_REDIS_PORT="$(free_port)"

cleanup() {
  local rc=$?
  scripts/dev-services.sh stop >/dev/null 2>&1 || log "could not stop the test's services ($FLOWLY_SERVICES_DIR)"
  if [ "$rc" -ne 0 ] || [ "${FLOWLY_FAULTS_KEEP:-0}" = 1 ]; then
    log "kept $WORK (process logs: node0.log, node1.log, worker.log)"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT

log "own PostgreSQL on :$FLOWLY_PG_PORT and Redis on :$FLOWLY_REDIS_PORT ($FLOWLY_SERVICES_DIR)"
eval "$(scripts/dev-services.sh start 2>"$WORK/services.log")" || { cat "$WORK/services.log" >&2; die "services did not start"; }

cargo build --quiet --locked -p flowly --bin flowly
runner=(cargo test --locked -p flowly-traffic --test faults -- --ignored --nocapture)
if cargo nextest --version >/dev/null 2>&1; then
  runner=(cargo nextest run --locked -p flowly-traffic --test faults --run-ignored only --no-capture)
fi
FLOWLY_FAULTS_BIN="$CARGO_TARGET_DIR/debug/flowly" FLOWLY_FAULTS_WORK="$WORK" \
  FLOWLY_FAULTS_MODELS="$ROOT_DIR/.cache/models" \
  FLOWLY_FAULTS_DATABASE_URL="$FLOWLY_TEST_DATABASE_URL" FLOWLY_FAULTS_REDIS_URL="$FLOWLY_TEST_REDIS_URL" \
  "${runner[@]}"
if [ -f "$WORK/faults.md" ]; then cat "$WORK/faults.md" >&2; fi
