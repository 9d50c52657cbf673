#!/usr/bin/env bash
# docker-engine.sh — make sure a Docker engine and Docker Compose are here and running.
#
#   appliance/docker-engine.sh ensure [--yes]   install Debian's docker.io + docker-compose if
#                                               missing (asks first unless --yes), start the
#                                               engine if it is not answering, wait for it
#   appliance/docker-engine.sh status           exit 0 when the engine answers
#
# On a machine with systemd the engine is started as the docker service; without it (containers,
# CI) dockerd is started in the background with its log in /var/log/dockerd.log.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$ROOT_DIR/scripts/lib.sh"

log() { printf '[docker-engine] %s\n' "$*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

install_engine() { # <yes>
  local missing=()
  have dockerd || missing+=(docker.io)
  have docker-compose || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$1" != yes ]; then
    [ -t 0 ] || die "Docker is missing (${missing[*]}); run again with --yes to install it from Debian"
    read -r -p "Docker is missing. Install ${missing[*]} from Debian now? [y/N] " answer
    case "$answer" in y | Y | yes) ;; *) die "Docker is needed; nothing was installed" ;; esac
  fi
  log "installing ${missing[*]} from Debian"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_engine() {
  engine_answers && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if [ -d /run/systemd/system ]; then
    log "starting the docker service"
    "${sudo[@]}" systemctl start docker
  else
    log "starting dockerd (log: /var/log/dockerd.log)"
    "${sudo[@]}" sh -c 'nohup dockerd >>/var/log/dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do
    engine_answers && { log "engine up: $(docker version --format '{{.Server.Version}}')"; return 0; }
    sleep 1
  done
  tail -n 20 /var/log/dockerd.log >&2 2>/dev/null || true
  die "the Docker engine did not start in 60 s"
}

cmd="${1:-ensure}"
[ $# -gt 0 ] && shift
case "$cmd" in
  ensure)
    yes=no
    [ "${1:-}" = --yes ] && yes=yes
    install_engine "$yes"
    start_engine
    ;;
  status) engine_answers ;;
  *) die "usage: $0 ensure [--yes] | status" ;;
esac
