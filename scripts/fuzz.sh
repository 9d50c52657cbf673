#!/usr/bin/env bash
# fuzz.sh — cargo-fuzz (libFuzzer) on Flowly's parsers of untrusted input: WebSocket client
# frames, @mentions, search queries, LogPilot's records, segment files and LogQL (the targets in
# fuzz/fuzz_targets; what each asserts is at its top; docs/testing.md has the longer runs).
#
#   scripts/fuzz.sh                      every target for FUZZ_SECS (default 20) seconds each
#   scripts/fuzz.sh logql mentions       only these targets
#   FUZZ_SECS=3600 scripts/fuzz.sh logql a long run of one target
#   scripts/fuzz.sh --build              build the targets only
#
# cargo-fuzz comes from crates.io, pinned, installed with `cargo install --locked` into
# ~/.cache/flowly/cargo-fuzz when missing. It needs nightly flags; the stable toolchain takes
# them with RUSTC_BOOTSTRAP=1. No sanitizer: the code under test has no `unsafe` (the workspace
# forbids it), so AddressSanitizer would only slow it; overflow checks and debug assertions are
# on. Each target's corpus grows in ~/.cache/flowly/fuzz/corpus/<target> from run to run,
# started from the seeds committed in fuzz/seeds/<target>; a crash is written to
# fuzz/artifacts/<target>/ and fails the run with the command that replays it.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

CARGO_FUZZ_VERSION=0.13.2
CACHE="$HOME/.cache/flowly/fuzz"
CARGO_FUZZ="$CACHE/cargo-fuzz/bin/cargo-fuzz"
SECS="${FUZZ_SECS:-20}"
# Build flags differ from the main workspace's: a target dir of its own.
export CARGO_TARGET_DIR="$CACHE/target"
export RUSTC_BOOTSTRAP=1
DIR=(--fuzz-dir fuzz)
OPTS=(--sanitizer none --debug-assertions)

log() { printf '[fuzz] %s\n' "$*" >&2; }

build_only=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --build) build_only=1 ;;
    -*) die "unknown option $arg" ;;
    *) targets+=("$arg") ;;
  esac
done

if [ "$("$CARGO_FUZZ" --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION into $CACHE/cargo-fuzz"
  build_dir="$(mktemp -d)"
  CARGO_TARGET_DIR="$build_dir" cargo install --quiet --locked --force --root "$CACHE/cargo-fuzz" "cargo-fuzz@$CARGO_FUZZ_VERSION"
  rm -rf "$build_dir"
fi
# `cargo fuzz` finds the subcommand on PATH.
export PATH="$CACHE/cargo-fuzz/bin:$PATH"

if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list "${DIR[@]}")
fi
cargo fmt --manifest-path fuzz/Cargo.toml --check
log "building the fuzz targets"
cargo fuzz build "${DIR[@]}" "${OPTS[@]}"
if [ "$build_only" -eq 1 ]; then exit 0; fi

for target in "${targets[@]}"; do
  corpus="$CACHE/corpus/$target"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  seeds=()
  [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
  log "$target: ${SECS}s ($(find "$corpus" -type f | wc -l) inputs in its corpus)"
  cargo fuzz run "${DIR[@]}" "${OPTS[@]}" "$target" "$corpus" "${seeds[@]}" -- \
    -max_total_time="$SECS" -seed=1 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>"$CACHE/$target.log" || {
    tail -n 60 "$CACHE/$target.log" >&2
    die "$target found a crash: the input is in fuzz/artifacts/$target/; replay it with RUSTC_BOOTSTRAP=1 PATH=$CACHE/cargo-fuzz/bin:\$PATH cargo fuzz run --fuzz-dir fuzz ${OPTS[*]} $target <file>"
  }
  grep -E '^stat::number_of_executed_units|^#[0-9]+\s+DONE' "$CACHE/$target.log" | tr '\n' ' ' >&2
  echo >&2
done
log "no crash in ${targets[*]}"
