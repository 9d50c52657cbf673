#!/usr/bin/env bash
# ansible-test.sh — the Ansible roles (ansible-roles/) applied for real, with containers as hosts
# (the community.docker.docker connection). A step of scripts/test.sh, after the appliance's.
#
# 1. ansible-lint (Debian's 6.13) on the roles and the test playbooks.
# 2. The test hosts' image: debian:bookworm-slim plus python3 (ansible-roles/test-host).
# 3. docker_host on a bare container that runs an engine of its own (dockerd in a private cgroup
#    namespace, /var/lib/docker on a volume): Debian's packages installed, dockerd started (no
#    systemd there), daemon.json written and the engine restarted, debian:bookworm-slim made by
#    debootstrap; then a container runs on that engine. A second apply changes nothing.
# 4. flowly on a container that drives this machine's engine (its socket mounted, host network so
#    the preflight sees the real ports, the install directory at the same path on both sides):
#    the release copied over and `flowlyctl install --offline` run with a certificate and hostname
#    of the admin's; the appliance answers over HTTPS, verified against that certificate. A second
#    apply changes nothing and flowlyctl says so.
# 5. app_node on the same host: the flowly image loaded from a `docker save` archive, two
#    `flowly serve` nodes on the appliance's internal network using its PostgreSQL and Redis; each
#    answers /readyz, has its health check, restart policy and memory limit; a message sent
#    through one node is read back through the appliance's nginx. A second apply changes nothing;
#    a third with app_node_count=1 removes the second node.
#
# Everything it makes is named flowlyansible<pid>… (containers, the compose project, networks,
# images) and is removed when it exits, failed or not; leftovers of killed runs are removed first.
# Every ansible-playbook run is bounded by `timeout`.
#
# Inputs (defaults in brackets): FLOWLY_ANSIBLE_FLOWLY_BIN [the release flowly, built when
# missing], FLOWLY_ANSIBLE_FLOWLYCTL_BIN [the debug flowlyctl, built], the web client in web/dist
# (built by test.sh's web step), the models (scripts/fetch-models.sh) and the PostgreSQL wheel
# (scripts/dev-services.sh wheel).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowly/target}"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0 PY_COLORS=0

RUN="flowlyansible$$"
LABEL="flowlyansible.run"
STARTED=$(date +%s)
log() { printf '[ansible-test %4ss] %s\n' "$(($(date +%s) - STARTED))" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

WORK=""
FLOWLYCTL=""

# ---------------------------------------------------------------- cleanup
remove_run() { # <run id>: every container, volume, network and image of one run
  local run="$1"
  # The app nodes first (they hold endpoints on the appliance's network), stopped, then removed.
  local nodes
  nodes="$(docker ps -aq --filter "label=flowly.app_node=$run-app")"
  if [ -n "$nodes" ]; then
    xargs -r docker stop -t 5 <<<"$nodes" >/dev/null 2>&1 || true
    xargs -r docker rm -v <<<"$nodes" >/dev/null 2>&1 || true
  fi
  if [ -n "$FLOWLYCTL" ] && [ "$run" = "$RUN" ] && [ -f "$WORK/home/compose.env" ]; then
    "$FLOWLYCTL" --home "$WORK/home" --project "$run" down --volumes >/dev/null 2>&1 || true
  fi
  docker ps -aq --filter "label=$LABEL=$run" | xargs -r docker rm -fv >/dev/null 2>&1 || true
  docker ps -aq --filter "label=com.docker.compose.project=$run" | xargs -r docker rm -fv >/dev/null 2>&1 || true
  docker volume ls -q --filter "label=com.docker.compose.project=$run" | xargs -r docker volume rm >/dev/null 2>&1 || true
  # A network is busy for a moment after its last container went: try a few times.
  local _ nets
  for _ in 1 2 3 4 5; do
    nets="$( (docker network ls -q --filter "label=com.docker.compose.project=$run"
              docker network ls -q --filter "name=^$run-nodes\$") | sort -u)"
    [ -n "$nets" ] || break
    xargs -r docker network rm <<<"$nets" >/dev/null 2>&1 || sleep 2
  done
  docker rmi "$run/flowly:node" >/dev/null 2>&1 || true
}

cleanup() {
  local rc=$?
  set +e
  if [ "$rc" -ne 0 ] && [ -n "$WORK" ]; then
    for c in $(docker ps -aq --filter "label=flowly.app_node=$RUN-app"); do
      log "last lines of app node $c:"; docker logs --tail 20 "$c" 2>&1 | sed 's/^/    /' >&2
    done
  fi
  log "removing what this run made ($RUN)"
  remove_run "$RUN"
  [ -n "$WORK" ] && rm -rf "$WORK"
  if [ "$rc" -eq 0 ]; then log "all Ansible checks passed"; else log "FAILED (exit $rc)"; fi
}
trap cleanup EXIT

# Runs killed before they could clean up: their pid is gone.
remove_leftovers() {
  local runs run
  runs="$( (docker ps -a --format "{{.Label \"$LABEL\"}}"
            docker ps -a --format '{{.Label "com.docker.compose.project"}}' | grep '^flowlyansible' || true
            docker ps -a --format '{{.Label "flowly.app_node"}}' | grep '^flowlyansible' | sed 's/-app$//' || true) |
          sed 's/^flowlyansible//' | grep -E '^[0-9]+$' | sort -u || true)"
  for run in $runs; do
    kill -0 "$run" 2>/dev/null && continue
    log "removing leftovers of the killed run flowlyansible$run"
    remove_run "flowlyansible$run"
    rm -rf "/tmp/flowlyansible$run".*
  done
}

# ---------------------------------------------------------------- helpers
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Two free consecutive ports (app nodes 1 and 2 publish base and base+1).
free_port_pair() {
  python3 - <<'EOF'
import socket
for _ in range(200):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); port = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", port + 1))
    except OSError:
        continue
    finally:
        a.close(); b.close()
    print(port)
    break
else:
    raise SystemExit("no two consecutive free ports")
EOF
}

# Stdin with the appliance's secrets (once compose.env exists) shown as ***, should a task leak them:
# check_no_secrets_logged fails the test on the raw logs.
redact() {
  local script=() key value
  for key in POSTGRES_PASSWORD REDIS_PASSWORD GRAFANA_ADMIN_PASSWORD; do
    value="$(sed -n "s/^$key=//p" "$WORK/home/compose.env" 2>/dev/null || true)"
    [ -n "$value" ] && script+=(-e "s/$value/***/g")
  done
  if [ ${#script[@]} -gt 0 ]; then sed "${script[@]}"; else cat; fi
}

# Runs a playbook (bounded in time), its output shown and kept in $WORK/<name>.log. Verbose (-v):
# every task's result is printed, so the secrets check below sees what no_log hides.
playbook() { # <log name> <seconds> <playbook> [ansible-playbook args…]
  local name="$1" secs="$2" book="$3" rc=0 started
  shift 3
  started=$(date +%s)
  log "ansible-playbook $book $* (at most ${secs}s)"
  (cd ansible-roles && timeout "$secs" ansible-playbook -v -i "$WORK/inventory.yml" "$book" "$@") \
    >"$WORK/$name.log" 2>&1 || rc=$?
  redact <"$WORK/$name.log" | sed 's/^/    /' | grep -vE '^ +$' | tail -n 60 >&2
  [ "$rc" -eq 124 ] && fail "$book did not finish in ${secs}s"
  [ "$rc" -eq 0 ] || fail "$book failed (exit $rc)"
  log "$name: $(($(date +%s) - started))s"
}

# The PLAY RECAP line of a host in a playbook log: "ok=N changed=N …".
recap() { # <log name> <host>
  sed -n "s/^$2 *: //p" "$WORK/$1.log" | tail -n 1
}

expect_changed() { # <log name> <host> zero|some
  local line changed
  line="$(recap "$1" "$2")"
  [ -n "$line" ] || fail "$1: no PLAY RECAP for $2"
  changed="$(sed -n 's/.*changed=\([0-9]*\).*/\1/p' <<<"$line")"
  case "$3" in
    zero) [ "$changed" = 0 ] || fail "$1: the second apply changed something ($line)" ;;
    some) [ "$changed" -gt 0 ] || fail "$1: the first apply changed nothing ($line)" ;;
  esac
  log "$1: $line"
}

# JSON field of stdin: json_get '["id"]'
json_get() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

# ---------------------------------------------------------------- inputs
inputs() {
  [ -f web/dist/index.html ] || fail "the web client is not built: cd web && npm ci && npm run build"
  scripts/fetch-models.sh
  WHEEL="$(scripts/dev-services.sh wheel)"
  local flowly_bin="${FLOWLY_ANSIBLE_FLOWLY_BIN:-}" flowlyctl_bin="${FLOWLY_ANSIBLE_FLOWLYCTL_BIN:-}"
  if [ -z "$flowly_bin" ]; then
    cargo build --quiet --release --locked --bin flowly
    flowly_bin="$CARGO_TARGET_DIR/release/flowly"
  fi
  if [ -z "$flowlyctl_bin" ]; then
    cargo build --quiet --locked -p flowlyctl --bin flowlyctl
    flowlyctl_bin="$CARGO_TARGET_DIR/debug/flowlyctl"
  fi
  # A snapshot: other builds may replace the target directory's binaries while this runs.
  mkdir -p "$WORK/bin"
  cp "$flowly_bin" "$WORK/bin/flowly"
  cp "$flowlyctl_bin" "$WORK/bin/flowlyctl"
  FLOWLYCTL="$WORK/bin/flowlyctl"
}

# ---------------------------------------------------------------- test hosts
build_host_image() {
  local tag
  tag="flowlyansible-host:$(sha256sum ansible-roles/test-host/Dockerfile | cut -c1-12)"
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    docker build -q -t "$tag" ansible-roles/test-host >"$WORK/host-image.log" 2>&1 ||
      { cat "$WORK/host-image.log" >&2; fail "the test host image does not build"; }
  fi
  HOST_IMAGE="$tag"
  log "test host image $HOST_IMAGE"
}

# A host for docker_host that can run dockerd itself: a private cgroup namespace and
# /var/lib/docker on a volume (overlay2 works there). --privileged where the engine grants it;
# otherwise every capability it can grant (this machine's engine cannot grant CAP_SYS_RESOURCE),
# and the cgroup hierarchies, which Docker mounts read-only then, mounted again writable in the
# container's own namespace — as on a VM, where they are writable.
start_engine_host() {
  local name="$RUN-engine" opts=(--cgroupns private --tmpfs /run --tmpfs /tmp -v /var/lib/docker)
  if docker run --rm --privileged "$HOST_IMAGE" true >/dev/null 2>&1; then
    opts+=(--privileged)
    log "engine host: privileged container"
  else
    opts+=(--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined
      --security-opt apparmor=unconfined)
    log "engine host: this engine refuses --privileged; all capabilities but CAP_SYS_RESOURCE"
  fi
  docker run -d --name "$name" --label "$LABEL=$RUN" --init "${opts[@]}" "$HOST_IMAGE" >/dev/null
  docker exec "$name" sh -eu -c '
    awk "\$3 == \"cgroup\" || \$3 == \"cgroup2\" { print \$2, \$3, \$4 }" /proc/mounts |
    while read -r dir type opts; do
      case ",$opts," in *,ro,*) ;; *) continue ;; esac
      umount "$dir"
      if [ "$type" = cgroup2 ]; then mount -t cgroup2 cgroup2 "$dir"
      else mount -t cgroup -o "$(echo "$opts" | tr , "\n" | grep -vxE "ro|rw|nosuid|nodev|noexec|relatime" | paste -sd,)" cgroup "$dir"
      fi
    done'
  ENGINE_HOST="$name"
}

# A host whose Docker CLI and modules drive this machine's engine: the engine's socket and, read
# only, its data directory (flowlyctl's preflight measures the free disk there), host network (the
# preflight sees the real ports), and the install directory at the same path as on this machine
# (compose's bind mounts are resolved by the engine, on this machine).
start_socket_host() {
  local name="$RUN-host" root
  root="$(docker info --format '{{.DockerRootDir}}')"
  mkdir -p "$WORK/home"
  docker run -d --name "$name" --label "$LABEL=$RUN" --init --network host \
    -v /var/run/docker.sock:/var/run/docker.sock -v "$root:$root:ro" \
    -v "$WORK/home:$WORK/home" "$HOST_IMAGE" >/dev/null
  SOCKET_HOST="$name"
}

write_inventory() {
  cat >"$WORK/inventory.yml" <<EOF
all:
  vars:
    ansible_connection: community.docker.docker
    ansible_python_interpreter: /usr/bin/python3
engine_hosts:
  hosts:
    $ENGINE_HOST:
      docker_host_daemon_config:
        log-driver: json-file
        log-opts:
          max-size: 10m
socket_hosts:
  hosts:
    $SOCKET_HOST:
      flowly_source_dir: $ROOT_DIR
      flowly_bin: $WORK/bin/flowly
      flowly_flowlyctl_bin: $WORK/bin/flowlyctl
      flowly_pg_wheel: $WHEEL
      flowly_home: $WORK/home
      flowly_project: $RUN
      flowly_bind: 127.0.0.1
      flowly_http_port: $HTTP_PORT
      flowly_https_port: $HTTPS_PORT
      flowly_offline: true
      flowly_hostname: $TLS_NAME
      flowly_tls_cert: $WORK/tls/cert.pem
      flowly_tls_key: $WORK/tls/key.pem
      app_node_image: $RUN/flowly:node
      app_node_image_archive: $WORK/flowly-image.tar
      app_node_name: $RUN-app
      app_node_count: 2
      app_node_bind: 127.0.0.1
      app_node_port: $NODE_PORT
      app_node_network: $RUN-nodes
      app_node_extra_networks: [${RUN}_backend]
      app_node_memory: 512m
EOF
}

# ---------------------------------------------------------------- checks
check_engine_host() {
  local out
  out="$(docker exec "$ENGINE_HOST" sh -c 'docker info --format "{{.ServerVersion}} {{.Driver}} {{.LoggingDriver}}" &&
    docker run --rm debian:bookworm-slim cat /etc/debian_version')" ||
    fail "the engine in $ENGINE_HOST does not run a container"
  log "engine host: $(tr '\n' ' ' <<<"$out")"
  grep -q ' json-file$' <<<"$(head -n 1 <<<"$out")" || fail "daemon.json's log driver is not in effect"
  grep -qE '^12\.' <<<"$(tail -n 1 <<<"$out")" || fail "the nested base image is not Debian 12"
}

# The admin's own certificate (flowly_tls_cert/flowly_tls_key) for the name flowly_hostname.
make_certificate() {
  TLS_NAME="$RUN.test"
  mkdir -p "$WORK/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$TLS_NAME" \
    -addext "subjectAltName=DNS:$TLS_NAME" -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>/dev/null
}

check_appliance() {
  local page
  # Verified against the given certificate, by the given name.
  page="$(curl -sf --max-time 20 --cacert "$WORK/tls/cert.pem" --resolve "$TLS_NAME:$HTTPS_PORT:127.0.0.1" \
    "https://$TLS_NAME:$HTTPS_PORT/")" ||
    fail "the appliance does not answer on https://$TLS_NAME:$HTTPS_PORT/ with the given certificate"
  grep -q '<div id="app"' <<<"$page" || fail "nginx does not serve the web client"
  [ "$(stat -c %a "$WORK/home/compose.env")" = 600 ] || fail "compose.env is not mode 0600"
  docker exec "$SOCKET_HOST" flowlyctl --home "$WORK/home" --project "$RUN" status >&2 ||
    fail "flowlyctl status on the host failed"
  log "appliance: https://$TLS_NAME:$HTTPS_PORT/ (127.0.0.1) serves the web client with the given certificate"
}

check_nodes() {
  local i name port inspect
  for i in 1 2; do
    name="$RUN-app-$i" port=$((NODE_PORT + i - 1))
    curl -sf --max-time 10 "http://127.0.0.1:$port/readyz" >/dev/null || fail "$name does not answer /readyz on $port"
    inspect="$(docker inspect --format '{{.State.Health.Status}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.Memory}} {{range $n, $_ := .NetworkSettings.Networks}}{{$n}},{{end}}' "$name")"
    [ "$inspect" = "healthy unless-stopped 536870912 $RUN-nodes,${RUN}_backend," ] ||
      [ "$inspect" = "healthy unless-stopped 536870912 ${RUN}_backend,$RUN-nodes," ] ||
      fail "$name: health, restart policy, memory or networks are not as configured: $inspect"
    log "$name: /readyz on 127.0.0.1:$port; $inspect"
  done
}

# Through node 1: log in as the appliance's administrator, open a room, send a message. Through
# the appliance's nginx (HTTPS) and through node 2: the message is there.
check_message() {
  local password node="http://127.0.0.1:$NODE_PORT" nginx="https://127.0.0.1:$HTTPS_PORT" token room body
  password="$(sed -n 's/^password: //p' "$WORK/home/admin-credentials")"
  token="$(curl -sf --max-time 20 -H 'content-type: application/json' \
    -d "$(python3 -c 'import json, sys; print(json.dumps({"username": "admin", "password": sys.argv[1]}))' "$password")" \
    "$node/api/v1/auth/login" | json_get '["token"]')" || fail "login through $RUN-app-1 failed"
  room="$(curl -sf --max-time 20 -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"name": "Ansible"}' "$node/api/v1/rooms" | json_get '["id"]')" || fail "no room made through $RUN-app-1"
  body="sent through the app node $RUN-app-1"
  curl -sf --max-time 20 -o /dev/null -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"body\": \"$body\", \"client_id\": \"ansible-$RUN\"}" "$node/api/v1/rooms/$room/messages" ||
    fail "sending a message through $RUN-app-1 failed"
  for base in "$nginx" "http://127.0.0.1:$((NODE_PORT + 1))"; do
    curl -ksf --max-time 20 -H "authorization: Bearer $token" "$base/api/v1/rooms/$room/messages?limit=50" |
      json_get '["messages"]' | grep -qF "$body" || fail "the message is not visible through $base"
    log "the message sent through $RUN-app-1 is visible through $base"
  done
}

# The secrets (compose.env) appear in no playbook output: the tasks that see them use no_log.
check_no_secrets_logged() {
  local key value
  for key in POSTGRES_PASSWORD REDIS_PASSWORD; do
    value="$(sed -n "s/^$key=//p" "$WORK/home/compose.env")"
    [ -n "$value" ] || fail "compose.env has no $key"
    if grep -lF -- "$value" "$WORK"/*.log >&2; then fail "$key appears in the playbook output above"; fi
  done
  log "no secret in the playbook output"
}

# ---------------------------------------------------------------- main
docker info >/dev/null 2>&1 || fail "no Docker engine answers (appliance/docker-engine.sh ensure --yes)"
docker image inspect debian:bookworm-slim >/dev/null 2>&1 || fail "debian:bookworm-slim is missing (appliance/base-image.sh)"
remove_leftovers
WORK="$(mktemp -d "/tmp/$RUN.XXXXXX")"
chmod 755 "$WORK"

log "ansible-lint ($(ansible-lint --version 2>/dev/null | head -n 1 | sed 's/\x1b\[[0-9;]*m//g'))"
# From inside ansible-roles/: given a directory, ansible-lint 6.13 lints it as one role (and
# "ansible-roles" is no role name); from inside, it lints every file there (git ls-files).
(cd ansible-roles && ansible-lint --nocolor -q) || fail "ansible-lint"

inputs
build_host_image
HTTP_PORT="$(free_port)"
HTTPS_PORT="$(free_port)"
make_certificate
NODE_PORT="$(free_port_pair)"
start_engine_host
start_socket_host
write_inventory

# docker_host on the bare host with an engine of its own.
playbook docker-host-1 900 test-docker-host.yml
expect_changed docker-host-1 "$ENGINE_HOST" some
playbook docker-host-2 300 test-docker-host.yml
expect_changed docker-host-2 "$ENGINE_HOST" zero
check_engine_host

# flowly (with docker_host, its dependency) on the host that drives this machine's engine.
playbook flowly-1 1200 test-flowly.yml
expect_changed flowly-1 "$SOCKET_HOST" some
grep -A1 'TASK \[flowly : Install the appliance' "$WORK/flowly-1.log" | grep -q '^changed:' ||
  fail "the first flowlyctl install was not reported as a change"
check_appliance
playbook flowly-2 600 test-flowly.yml
expect_changed flowly-2 "$SOCKET_HOST" zero
grep -q 'is installed and running; nothing changed' "$WORK/flowly-2.log" ||
  fail "flowlyctl install did not say 'nothing changed' the second time"

# app_node: the image comes from an archive (a tag of the appliance's flowly image, saved, then
# removed from the engine, so the role really loads it).
flowly_image="$(sed -n 's/^FLOWLY_IMAGE_FLOWLY=//p' "$WORK/home/compose.env")"
[ -n "$flowly_image" ] || fail "compose.env names no flowly image"
docker tag "$flowly_image" "$RUN/flowly:node"
docker save -o "$WORK/flowly-image.tar" "$RUN/flowly:node"
docker rmi "$RUN/flowly:node" >/dev/null
log "saved $flowly_image as $RUN/flowly:node ($(du -h "$WORK/flowly-image.tar" | cut -f1)) and removed the tag"
playbook app-node-1 600 test-app-node.yml
expect_changed app-node-1 "$SOCKET_HOST" some
grep -A1 'TASK \[app_node : Load the image archive\]' "$WORK/app-node-1.log" | grep -q '^changed:' ||
  fail "the role did not load the image archive"
docker image inspect "$RUN/flowly:node" >/dev/null 2>&1 || fail "$RUN/flowly:node is not on the engine"
check_nodes
check_message
playbook app-node-2 300 test-app-node.yml
expect_changed app-node-2 "$SOCKET_HOST" zero
check_nodes
playbook app-node-3 300 test-app-node.yml -e app_node_count=1
expect_changed app-node-3 "$SOCKET_HOST" some
[ -z "$(docker ps -aq --filter "name=^$RUN-app-2\$")" ] || fail "app_node_count=1 left $RUN-app-2 running"
curl -sf --max-time 10 "http://127.0.0.1:$NODE_PORT/readyz" >/dev/null || fail "$RUN-app-1 stopped answering"
log "app_node_count=1 removed $RUN-app-2 and kept $RUN-app-1"
check_no_secrets_logged
