# shellcheck shell=bash
# Shared shell helpers for scripts/*.sh (sourced, not run).

have() { command -v "$1" >/dev/null 2>&1; }
have_pip() { have pip3 || have pip || python3 -m pip --version >/dev/null 2>&1; }
die() { printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# install_packages_if_missing <command>=<debian-package>...: apt-get installs the packages whose
# command is missing (apt-get update once, only when something is missing).
install_packages_if_missing() {
  local missing=() pair
  for pair in "$@"; do
    if [ "${pair%%=*}" = pip ]; then
      have_pip || missing+=("${pair#*=}")
    else
      have "${pair%%=*}" || missing+=("${pair#*=}")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    have sudo || die "missing packages (${missing[*]}) and not root; install them with apt-get"
    sudo=(sudo)
  fi
  echo "installing: ${missing[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# drop_test_node_state <database> <redis-key-prefix>: removes what a test node left in the dev
# services (its database, its Redis keys); quiet, and never fails (for cleanup traps).
drop_test_node_state() {
  scripts/dev-services.sh psql -d postgres -X -q -c "drop database if exists $1 with (force)" >/dev/null 2>&1 || true
  redis-cli -u "$FLOWLY_TEST_REDIS_URL" --scan --pattern "$2*" 2>/dev/null |
    xargs -r redis-cli -u "$FLOWLY_TEST_REDIS_URL" del >/dev/null 2>&1 || true
}
