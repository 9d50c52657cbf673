#!/usr/bin/env bash
# schemathesis.sh — Schemathesis against the OpenAPI document a real node serves: every
# operation gets generated requests, valid and invalid, authenticated as a logged-in user; the
# run fails on any server error (5xx) or any response the document does not describe (status,
# content type, body schema, headers).
#
# On loopback only: `flowly serve` (the debug build) on a fresh database, its own port and Redis
# prefix, against the services of scripts/dev-services.sh. Accounts, a room, a message, a task and
# an assistant request are made through the API (scripts/schemathesis-data.py), and generated
# requests use their ids most of the time, so that handlers run past "not found"; the run is
# authenticated by bearer token (no CSRF header needed, docs/protocol.md). Bounded and
# repeatable: deterministic generation (or SCHEMATHESIS_SEED), at most SCHEMATHESIS_EXAMPLES examples per
# operation, a time limit on the whole run.
#
#   scripts/schemathesis.sh                       (scripts/test.sh runs it as the step "schemathesis")
#   SCHEMATHESIS_EXAMPLES=200 SCHEMATHESIS_SEED=7 SCHEMATHESIS_MAX_SECS=1800 scripts/schemathesis.sh
#                                                 a longer run (docs/testing.md)
#   FLOWLY_SCHEMATHESIS_KEEP=1 ...                keep the work directory (server log, report)
#   FLOWLY_BIN=path/to/flowly ...                 test that binary (default: build the debug one)
#
# Schemathesis comes from PyPI, pinned, into a venv under ~/.cache/flowly (made again when the
# version differs).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

SCHEMATHESIS_VERSION=4.32.5
VENV="$HOME/.cache/flowly/venv-schemathesis"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-25}"
MAX_SECS="${SCHEMATHESIS_MAX_SECS:-240}"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
# Operations left out, each because it would end the run's own session (every later request
# would then be a 401, which the document allows, and test nothing): logging out, logging out
# everywhere, and deleting a session (the stateful phase finds the run's own session id).
EXCLUDE=(--exclude-operation-id logout --exclude-operation-id logout_all --exclude-operation-id revoke_session)
# Operations that remove or end what the others work on (the test room, message, task, the
# friendship): they run in a second pass, after all the others have had the data.
LAST=(leave_room remove_member transfer_ownership delete_message delete_task block_user unfriend
  admin_disable_user decline_request cancel_request)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowly/target}"
log() { printf '[schemathesis] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- schemathesis, pinned
if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# ---------------------------------------------------------------- a node on a fresh database
eval "$(scripts/dev-services.sh start 2>/dev/null)"
# FLOWLY_BIN: a flowly binary to test instead of building this tree's debug one.
if [ -z "${FLOWLY_BIN:-}" ]; then
  cargo build --quiet --locked --bin flowly
fi
BIN="${FLOWLY_BIN:-$CARGO_TARGET_DIR/debug/flowly}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/flowly-schemathesis.XXXXXX")"
DB="flowly_test_schemathesis_$$"
PREFIX="schemathesis-$$:"
SERVER=""

cleanup() {
  local rc=$?
  if [ -n "$SERVER" ]; then
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -s "$WORK/serve.log" ]; then
    echo "---- last lines of the server log ($WORK/serve.log)" >&2
    tail -n 30 "$WORK/serve.log" >&2
  fi
  drop_test_node_state "$DB" "$PREFIX"
  if [ "${FLOWLY_SCHEMATHESIS_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
scripts/dev-services.sh psql -d postgres -X -q -v ON_ERROR_STOP=1 -c "drop database if exists $DB with (force)" -c "create database $DB"
# Limits raised so that generated requests reach the handlers instead of a 429 (which the
# document allows, and so would hide what is behind it); cheap password hashing, as in tests.
FLOWLY_DATABASE__URL="${FLOWLY_TEST_DATABASE_URL%/*}/$DB" FLOWLY_REDIS__URL="$FLOWLY_TEST_REDIS_URL" \
  FLOWLY_REDIS__KEY_PREFIX="$PREFIX" FLOWLY_SERVER__LISTEN="127.0.0.1:$PORT" \
  FLOWLY_SERVER__METRICS_LISTEN=127.0.0.1:0 FLOWLY_SERVER__WEB_DIR=/nonexistent \
  FLOWLY_AUTH__ARGON2_MEMORY_KIB=64 FLOWLY_AUTH__ARGON2_ITERATIONS=1 \
  FLOWLY_AUTH__REGISTRATIONS_PER_IP_PER_HOUR=1000000 FLOWLY_AUTH__LOGIN_ATTEMPTS_PER_IP=1000000 \
  FLOWLY_AUTH__LOGIN_FAILURES_PER_ACCOUNT=1000000 FLOWLY_LIMITS__WRITES_PER_USER_PER_MINUTE=1000000 \
  FLOWLY_ASSISTANT__ASKS_PER_USER_PER_MINUTE=1000000 FLOWLY_LOG__LEVEL=warn \
  "$BIN" serve >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 150); do
  curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || die "flowly serve exited"
  sleep 0.2
done
curl -fsS -o /dev/null "$BASE/readyz" || die "flowly serve did not become ready at $BASE"
log "flowly serve on $BASE, database $DB"

# ---------------------------------------------------------------- accounts and data, by the API
# scripts/schemathesis-data.py makes them and the config that binds their ids to the parameters;
# Schemathesis sends the run's token as the document's `bearer` scheme (from the environment).
token="$(python3 scripts/schemathesis-data.py "$BASE" "$WORK/schemathesis.toml")"
[ -n "$token" ] || die "setting up the test data gave no token"

# ---------------------------------------------------------------- the run
# Deterministic by default (the same requests every run); SCHEMATHESIS_SEED=n for a random run
# that a seed repeats.
GENERATION=(--generation-deterministic)
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then GENERATION=(--seed "$SCHEMATHESIS_SEED"); fi
log "checks: $CHECKS; $EXAMPLES examples per operation, ${GENERATION[*]}, at most ${MAX_SECS}s"
# Kept runs also record every request and response (HAR).
REPORTS=junit
if [ "${FLOWLY_SCHEMATHESIS_KEEP:-0}" = 1 ]; then REPORTS=junit,har; fi
deadline=$(($(date +%s) + MAX_SECS))

# run_pass <name> <filters...>: one Schemathesis run over the operations the filters select,
# within what is left of the time limit. One worker: with two threads, Hypothesis parsing its
# sources for lambda descriptions in both at once trips CPython 3.11's shared AST recursion
# counter ("SystemError: AST constructor recursion depth mismatch", python/cpython#106905),
# which failed a clean-clone run on 2026-12-02 as a schemathesis "Runtime Error".
run_pass() {
  local name="$1" left rc=0
  shift
  left=$((deadline - $(date +%s)))
  [ "$left" -gt 0 ] || die "no time left for the pass $name (SCHEMATHESIS_MAX_SECS=$MAX_SECS)"
  log "pass $name"
  (cd "$WORK" && FLOWLY_SCHEMATHESIS_TOKEN="$token" timeout --signal=INT --kill-after=30 "$left" \
    "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run \
    "$BASE/api/v1/openapi.json" \
    --checks "$CHECKS" \
    --max-examples "$EXAMPLES" \
    "${GENERATION[@]}" \
    --workers 1 \
    --request-timeout 35 \
    "${EXCLUDE[@]}" "$@" \
    --report "$REPORTS" --report-dir "$WORK/report-$name" \
    --no-color) || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 130 ]; then
    die "schemathesis did not finish within ${MAX_SECS}s"
  fi
  if [ "$rc" -ne 0 ]; then
    log "pass $name: schemathesis found responses that are server errors or off the document (exit $rc)"
    failed+=("$name")
  fi
}

failed=()
last_filters=()
for operation in "${LAST[@]}"; do last_filters+=(--exclude-operation-id "$operation"); done
run_pass main "${last_filters[@]}"
last_filters=()
for operation in "${LAST[@]}"; do last_filters+=(--include-operation-id "$operation"); done
run_pass last "${last_filters[@]}"
[ ${#failed[@]} -eq 0 ] || die "failures in the pass(es) ${failed[*]}; see above"
log "no server errors, every response as documented"
