#!/usr/bin/env bash
# dashboards-test.sh — every panel of every Grafana dashboard shows data from a running stack.
#
# On loopback only, natively (no Docker): `flowly logpilot` with a producer and a reader key as in
# the appliance, a `flowly serve` and a `flowly worker` on a fresh database that ship their logs
# (info and up) to it, nginx in front of the node with its stub_status, Debian's postgres, redis
# and nginx exporters, and Debian's Prometheus scraping all of them with the job names of
# prometheus/prometheus.yml (every 2 s). While a log reader does what LogPilot's readers do in
# production (a consumer group fetches and commits through the native API; a viewer refreshes
# the Logs dashboard through the Loki API, as Grafana does): PostgreSQL refuses the test database
# for a moment (its connections killed, new ones refused) and a few logins fail with 500, which
# Flowly logs as errors with their request ids, and which must reach LogPilot; a shipper with a
# wrong key is refused (401); then a short flowly-traffic run plays through nginx. Then
# scripts/check-dashboards.py runs every query of every dashboard in
# grafana/provisioning/dashboards/flowly against Prometheus and LogPilot's Loki API (with the
# reader key, as Grafana's datasource) and fails naming each panel that shows nothing.
#
# Also: the dashboards are what grafana/build-dashboards.py makes, promtool accepts the
# appliance's prometheus.yml and alert rules, the rules' unit tests pass (promtool test rules),
# and the rules evaluate without error against the live metrics.
# Bounded: the traffic run stops by itself, every wait has a limit.
#
#   scripts/dashboards-test.sh          (scripts/test.sh runs it as the step "dashboards")
#   FLOWLY_DASHBOARDS_KEEP=1 ...        keep the work directory (logs, Prometheus data)
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowly/target}"
TRAFFIC_SECS=25
SCRAPE_SECS=2
DASHBOARDS=(grafana/provisioning/dashboards/flowly/*.json)

log() { printf '[dashboards] %s\n' "$*" >&2; }

for tool in prometheus promtool prometheus-postgres-exporter prometheus-redis-exporter prometheus-nginx-exporter nginx; do
  have "$tool" || die "$tool is missing (scripts/test.sh installs it)"
done

log "dashboards are what grafana/build-dashboards.py makes"
python3 grafana/build-dashboards.py --check
log "promtool: the appliance's prometheus.yml, its alert rules and their unit tests"
promtool check config prometheus/prometheus.yml >&2
promtool check rules prometheus/rules/*.yml >&2
promtool test rules prometheus/tests/*.test.yml >&2

eval "$(scripts/dev-services.sh start 2>/dev/null)"
cargo build --quiet -p flowly --bin flowly -p flowly-traffic --bin flowly-traffic
BIN="$CARGO_TARGET_DIR/debug"
# LogPilot's keys, as the appliance's compose.env has them. Secrets: only in the environment of
# the processes that need them and in header files of mode 600 in the work directory.
PRODUCER_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
READER_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

WORK="$(mktemp -d "${TMPDIR:-/tmp}/flowly-dashboards.XXXXXX")"
DB="flowly_test_dashboards_$$"
PREFIX="dashboards-$$:"
PG_URL="${FLOWLY_TEST_DATABASE_URL%/*}/$DB"
PIDS=()

cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ]; then
    for f in "$WORK"/*.log; do
      [ -s "$f" ] || continue
      echo "---- last lines of $f" >&2
      tail -n 15 "$f" >&2
    done
  fi
  drop_test_node_state "$DB" "$PREFIX"
  if [ "${FLOWLY_DASHBOARDS_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for <what> <url>: up to 60 s for the URL to answer 200.
wait_for() {
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "$2" 2>/dev/null && return 0
    sleep 0.5
  done
  die "$1 did not answer at $2"
}

API=$(free_port) APP_METRICS=$(free_port) WORKER_METRICS=$(free_port) NGINX=$(free_port)
NGINX_STATUS=$(free_port) PG_EXPORTER=$(free_port) REDIS_EXPORTER=$(free_port)
NGINX_EXPORTER=$(free_port) PROMETHEUS=$(free_port) LOGPILOT=$(free_port)
LP="http://127.0.0.1:$LOGPILOT"

# ---------------------------------------------------------------- LogPilot
(umask 077
 printf 'Authorization: Bearer %s\n' "$READER_KEY" >"$WORK/reader.header"
 printf 'Authorization: Bearer %s\n' "not-the-producer-key" >"$WORK/wrong.header")
mkdir -p "$WORK/logpilot"
FLOWLY_LOGPILOT__LISTEN="127.0.0.1:$LOGPILOT" FLOWLY_LOGPILOT__DATA_DIR="$WORK/logpilot" \
  FLOWLY_LOGPILOT__PRODUCER_KEY="$PRODUCER_KEY" FLOWLY_LOGPILOT__READER_KEY="$READER_KEY" \
  "$BIN/flowly" logpilot >"$WORK/logpilot.log" 2>&1 &
PIDS+=($!)
wait_for "flowly logpilot" "$LP/ready"
log "flowly logpilot on 127.0.0.1:$LOGPILOT, with a producer and a reader key"

# refused_push: a shipper whose key is not LogPilot's (one left with a rotated key) is refused.
refused_push() {
  local code
  code=$(curl -sS -o /dev/null -w '%{http_code}' -H @"$WORK/wrong.header" -H 'Content-Type: application/json' \
    --data '{"events": [{"message": "sent with a wrong key"}]}' "$LP/api/v1/channels/flowly-serve/events")
  [ "$code" = 401 ] || die "LogPilot answered $code, not 401, to a push with a wrong key"
}
refused_push

# ---------------------------------------------------------------- Flowly
log "database $DB, seeded with a small dataset"
scripts/dev-services.sh psql -d postgres -X -q -v ON_ERROR_STOP=1 -c "drop database if exists $DB with (force)" -c "create database $DB"
cat >"$WORK/profile.toml" <<'EOF'
name = "dashboards"
[population]
online_users = 30
sockets_per_user = 1.5
login_share = 0.1
room_weights = { dm = 0.35, team = 0.25, channel = 0.40 }
[rates]
history = 6.0
room_list = 3.0
mark_read = 3.0
send_message = 15.0
react = 3.0
me = 3.0
friends = 2.0
mentions = 2.0
list_tasks = 4.0
get_task = 3.0
create_task = 2.0
update_task = 2.0
complete_task = 1.0
message_to_task = 1.0
search = 2.0
users_search = 2.0
assistant_ask = 1.0
login = 1.0
[realtime]
churn_per_minute = 0.5
[storm]
at_secs = 8
fraction = 0.5
spread_secs = 2
[timeouts]
request_secs = 10
connect_secs = 10
[dataset]
users = 50
org_size = 25
team_size = 5
channel_size = 10
channels_per_user = 2
dms_per_user = 2
history_messages = 500
tasks = 30
EOF
"$BIN/flowly-traffic" seed --profile "$WORK/profile.toml" --manifest "$WORK/manifest.json" \
  --database-url "$PG_URL" --flowly-bin "$BIN/flowly" >"$WORK/seed.log" 2>&1

export FLOWLY_DATABASE__URL="$PG_URL" FLOWLY_REDIS__URL="$FLOWLY_TEST_REDIS_URL" FLOWLY_REDIS__KEY_PREFIX="$PREFIX"
# serve and worker ship their logs, info and up, as in the appliance; each has a spool here.
export FLOWLY_LOG__LEVEL=info FLOWLY_LOG__SHIP_URL="$LP" FLOWLY_LOG__SHIP_SPOOL_DIR="$WORK/spool"
export FLOWLY_SERVER__WEB_DIR=/nonexistent FLOWLY_SERVER__TRUST_FORWARDED_FOR=true
export FLOWLY_AUTH__LOGIN_ATTEMPTS_PER_IP=1000000 FLOWLY_LIMITS__WRITES_PER_USER_PER_MINUTE=1000000
FLOWLY_LOG__SHIP_KEY="$PRODUCER_KEY" \
  FLOWLY_SERVER__LISTEN="127.0.0.1:$API" FLOWLY_SERVER__METRICS_LISTEN="127.0.0.1:$APP_METRICS" \
  "$BIN/flowly" serve >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
FLOWLY_LOG__SHIP_KEY="$PRODUCER_KEY" \
  FLOWLY_ASSISTANT__WORKER_METRICS_LISTEN="127.0.0.1:$WORKER_METRICS" FLOWLY_ASSISTANT__GENERATOR=none \
  FLOWLY_ASSISTANT__MODELS_DIR="$ROOT_DIR/.cache/models" FLOWLY_ASSISTANT__INDEX_SWEEP_SECS=5 \
  "$BIN/flowly" worker >"$WORK/worker.log" 2>&1 &
PIDS+=($!)

# ---------------------------------------------------------------- nginx with stub_status
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  upstream flowly { server 127.0.0.1:$API; keepalive 8; }
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  server { listen 127.0.0.1:$NGINX; include $ROOT_DIR/nginx/locations.conf; }
  server { listen 127.0.0.1:$NGINX_STATUS; location = /stub_status { stub_status; } }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
PIDS+=($!)
# The nginx exporter gives up at startup when stub_status does not answer yet.
wait_for "nginx stub_status" "http://127.0.0.1:$NGINX_STATUS/stub_status"

# ---------------------------------------------------------------- exporters and Prometheus
DATA_SOURCE_NAME="${FLOWLY_TEST_DATABASE_URL}?sslmode=disable" prometheus-postgres-exporter \
  --web.listen-address="127.0.0.1:$PG_EXPORTER" >"$WORK/postgres-exporter.log" 2>&1 &
PIDS+=($!)
prometheus-redis-exporter -redis.addr "$FLOWLY_TEST_REDIS_URL" \
  -web.listen-address "127.0.0.1:$REDIS_EXPORTER" >"$WORK/redis-exporter.log" 2>&1 &
PIDS+=($!)
prometheus-nginx-exporter -nginx.scrape-uri "http://127.0.0.1:$NGINX_STATUS/stub_status" \
  -web.listen-address "127.0.0.1:$NGINX_EXPORTER" >"$WORK/nginx-exporter.log" 2>&1 &
PIDS+=($!)

# The jobs of prometheus/prometheus.yml, on loopback ports.
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: ${SCRAPE_SECS}s
  scrape_timeout: ${SCRAPE_SECS}s
  evaluation_interval: ${SCRAPE_SECS}s
rule_files: ['$ROOT_DIR/prometheus/rules/*.yml']
scrape_configs:
  - job_name: app
    static_configs: [{targets: ['127.0.0.1:$APP_METRICS']}]
  - job_name: worker
    static_configs: [{targets: ['127.0.0.1:$WORKER_METRICS']}]
  - job_name: postgres-exporter
    static_configs: [{targets: ['127.0.0.1:$PG_EXPORTER']}]
  - job_name: redis-exporter
    static_configs: [{targets: ['127.0.0.1:$REDIS_EXPORTER']}]
  - job_name: nginx-exporter
    static_configs: [{targets: ['127.0.0.1:$NGINX_EXPORTER']}]
  - job_name: prometheus
    static_configs: [{targets: ['127.0.0.1:$PROMETHEUS']}]
  - job_name: logpilot
    static_configs: [{targets: ['127.0.0.1:$LOGPILOT']}]
EOF
promtool check config "$WORK/prometheus.yml" >/dev/null
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROMETHEUS" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)

wait_for "flowly serve" "http://127.0.0.1:$API/readyz"
wait_for "flowly serve's metrics" "http://127.0.0.1:$APP_METRICS/metrics"
wait_for "flowly worker's metrics" "http://127.0.0.1:$WORKER_METRICS/metrics"
wait_for "nginx" "http://127.0.0.1:$NGINX/healthz"
wait_for "postgres exporter" "http://127.0.0.1:$PG_EXPORTER/metrics"
wait_for "redis exporter" "http://127.0.0.1:$REDIS_EXPORTER/metrics"
wait_for "nginx exporter" "http://127.0.0.1:$NGINX_EXPORTER/metrics"
wait_for "prometheus" "http://127.0.0.1:$PROMETHEUS/-/ready"
log "stack up: api :$API (nginx :$NGINX), metrics app :$APP_METRICS worker :$WORKER_METRICS, prometheus :$PROMETHEUS"

# ---------------------------------------------------------------- LogPilot's readers
# lp_get <path>: a GET to LogPilot with the reader key.
lp_get() { curl -fsS -H @"$WORK/reader.header" "$LP$1"; }
for _ in $(seq 1 40); do
  lp_get /api/v1/channels | grep -q '"flowly-serve"' && lp_get /api/v1/channels | grep -q '"flowly-worker"' && break
  sleep 0.5
done
lp_get /api/v1/channels | grep -q '"flowly-serve"' || die "flowly serve's logs did not reach LogPilot"
lp_get /api/v1/channels | grep -q '"flowly-worker"' || die "flowly worker's logs did not reach LogPilot"

# What reads LogPilot in production: a consumer group that fetches flowly serve's events and
# commits its position (native API), and Grafana refreshing the Logs dashboard (Loki API). Both
# with the reader key, every second or two, until the measured window ends (bounded: 300 s).
cat >"$WORK/reader.py" <<'PY'
import json, os, sys, time, urllib.parse, urllib.request
base = sys.argv[1]
headers = {"Authorization": "Bearer " + os.environ["LOGPILOT_READ_KEY"], "Content-Type": "application/json"}
def call(path, body=None):
    req = urllib.request.Request(base + path, headers=headers,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)
deadline, tick, committed, queries = time.time() + 300, 0, 0, 0
while time.time() < deadline:
    try:
        batch = call("/api/v1/channels/flowly-serve/events?group=dashboards-test&max_events=50")
        if batch["records"]:
            call("/api/v1/channels/flowly-serve/consumers/dashboards-test/commit", {"offset": batch["next_offset"]})
            committed = batch["next_offset"]
        if tick % 2 == 0:
            now = time.time_ns()
            q = urllib.parse.urlencode({"query": 'sum by (service) (count_over_time({service=~".+"}[2s]))',
                                        "start": now - 300 * 10**9, "end": now, "step": "2s"})
            call("/loki/api/v1/query_range?" + q)
            queries += 1
    except Exception as e:  # reported; the test's checks say what is missing
        print("reader: %s" % e, file=sys.stderr, flush=True)
    print("committed %d, %d dashboard refreshes" % (committed, queries), flush=True)
    tick += 1
    time.sleep(1)
PY
LOGPILOT_READ_KEY="$READER_KEY" python3 "$WORK/reader.py" "$LP" >"$WORK/reader.log" 2>&1 &
READER_PID=$!
PIDS+=("$READER_PID")

# ---------------------------------------------------------------- errors, for real
START=$(date +%s)
# PostgreSQL goes away for the test database (its connections killed, new ones refused), as in a
# restart or failover: a login then fails with 500 and flowly serve logs the error with the
# request's id. The ids are ours (X-Request-Id), so LogPilot must show exactly them.
log "PostgreSQL refuses $DB for a moment: logins fail with 500, logged as errors with their request ids"
db_connections() {
  scripts/dev-services.sh psql -d postgres -X -q -v ON_ERROR_STOP=1 -c "alter database $DB allow_connections $1" \
    -c "select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = '$DB' and pid <> pg_backend_pid()" >/dev/null
}
db_connections false
REQUEST_IDS=()
for i in 1 2 3; do
  id="dashboards-$$-db-down-$i"
  code=$(curl -sS -o /dev/null -w '%{http_code}' -H "X-Request-Id: $id" -H 'Content-Type: application/json' \
    --data "{\"username\": \"nobody$i\", \"password\": \"not-a-password\"}" "http://127.0.0.1:$API/api/v1/auth/login")
  [ "$code" = 500 ] || { db_connections true; die "a login while PostgreSQL refused $DB answered $code, not 500"; }
  REQUEST_IDS+=("$id")
done
db_connections true
wait_for "flowly serve ready again" "http://127.0.0.1:$API/readyz"
# A second refusal in the window: the rejections' rate rises above zero.
refused_push

# ---------------------------------------------------------------- traffic
log "flowly-traffic for ${TRAFFIC_SECS}s through nginx; a consumer group and a dashboard viewer read LogPilot"
# The generator bounds itself (ramp + duration + a grace period).
"$BIN/flowly-traffic" run --manifest "$WORK/manifest.json" --profile "$WORK/profile.toml" \
  --target "http://127.0.0.1:$NGINX" --duration "$TRAFFIC_SECS" --ramp 5 --interval 5 \
  --sources 2-11 --quiet --out "$WORK/traffic.json" >"$WORK/traffic.log" 2>&1

log "the errors reach LogPilot with their request ids"
ERRORS_QUERY='sum by (request_id) (count_over_time({service="flowly-serve",level="error"} | request_id=~"dashboards-'"$$"'-.*" | keep request_id [5m]))'
found=""
for _ in $(seq 1 40); do
  found=$(lp_get "/loki/api/v1/query?$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlencode({"query": sys.argv[1]}))' "$ERRORS_QUERY")" |
    python3 -c 'import json, sys; print(" ".join(sorted(s["metric"].get("request_id", "") for s in json.load(sys.stdin)["data"]["result"])))')
  [ "$found" = "${REQUEST_IDS[*]}" ] && break
  sleep 0.5
done
[ "$found" = "${REQUEST_IDS[*]}" ] || die "LogPilot's errors by request id: '$found', not '${REQUEST_IDS[*]}'"
# What docs/operations.md tells an operator to do: search a request id in the Logs dashboard's
# Log stream, which finds that request's lines.
LOGPILOT_READ_KEY="$READER_KEY" python3 - "$LP" "${REQUEST_IDS[0]}" grafana/provisioning/dashboards/flowly/logs.json <<'PY' ||
import json, os, sys, time, urllib.parse, urllib.request
base, request_id, path = sys.argv[1:]
panel = next(p for p in json.load(open(path))["panels"] if p["title"] == "Log stream")
query = panel["targets"][0]["expr"].replace("$service", ".+").replace("$level", ".+").replace("$search", request_id)
now = time.time_ns()
url = base + "/loki/api/v1/query_range?" + urllib.parse.urlencode(
    {"query": query, "start": now - 300 * 10**9, "end": now, "limit": 100})
req = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["LOGPILOT_READ_KEY"]})
lines = [v[1] for s in json.load(urllib.request.urlopen(req, timeout=10))["data"]["result"] for v in s["values"]]
print("  the Log stream searched for %s: %d lines, e.g. %s" % (request_id, len(lines), lines[:1]), file=sys.stderr)
sys.exit(0 if lines and all(request_id in line for line in lines) else 1)
PY
  die "the Logs dashboard's Log stream does not find the lines of request ${REQUEST_IDS[0]}"

# Every target scraped at least twice after the traffic, so rates cover its end.
sleep $((SCRAPE_SECS * 3))
END=$(date +%s)
kill "$READER_PID"
wait "$READER_PID" 2>/dev/null || true
grep -q '^reader:' "$WORK/reader.log" && { cat "$WORK/reader.log" >&2; die "LogPilot's reader failed"; }
log "LogPilot's readers: $(tail -n 1 "$WORK/reader.log")"

log "targets Prometheus scraped:"
curl -fsS "http://127.0.0.1:$PROMETHEUS/api/v1/targets" |
  python3 -c 'import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    print("  %-18s %-5s %s" % (t["labels"]["job"], t["health"], t["lastError"]))' >&2

log "alert rules evaluate without error"
curl -fsS "http://127.0.0.1:$PROMETHEUS/api/v1/rules" | python3 -c 'import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
bad = [r for r in rules if r.get("health") != "ok"]
for r in bad:
    print("  rule %s: %s %s" % (r["name"], r.get("health"), r.get("lastError", "")), file=sys.stderr)
print("  %d rules evaluated, %d with errors" % (len(rules), len(bad)), file=sys.stderr)
sys.exit(1 if bad or not rules else 0)'

CHECK=(python3 scripts/check-dashboards.py --prometheus "http://127.0.0.1:$PROMETHEUS" --loki "$LP"
  --start "$START" --end "$END" --scrape-interval "$SCRAPE_SECS")
# The checker must fail DASHBOARD once its first panel's first query is EXPR, which shows nothing,
# and name that query (MARK) in its output.
expect_empty_panel_fails() { # <what> <dashboard> <expr> <mark>
  local what="$1" dashboard="$2" expr="$3" mark="$4" out="$WORK/empty-panel"
  python3 - "$dashboard" "$out.json" "$expr" <<'PY'
import json, sys
dash = json.load(open(sys.argv[1]))
panel = next(p for p in dash["panels"] if p.get("targets"))
panel["targets"][0]["expr"] = sys.argv[3]
json.dump(dash, open(sys.argv[2], "w"))
PY
  if LOGPILOT_READ_KEY="$READER_KEY" "${CHECK[@]}" "$out.json" >"$out.out"; then
    cat "$out.out" >&2
    die "check-dashboards.py passed a $what that shows nothing"
  fi
  grep -q "^      query: .*$mark" "$out.out" ||
    { cat "$out.out" >&2; die "check-dashboards.py failed, but not on the empty $what"; }
}

log "the checker fails a panel that shows nothing (a query of a metric nobody exports)"
# shellcheck disable=SC2016 # Grafana's variables, not the shell's
expect_empty_panel_fails panel grafana/provisioning/dashboards/flowly/overview.json \
  'sum(rate(flowly_no_such_metric_total[$__rate_interval]))' flowly_no_such_metric_total

log "... and a LogQL panel that shows nothing (a service that never logged)"
# shellcheck disable=SC2016 # Grafana's variables, not the shell's
expect_empty_panel_fails "LogQL panel" grafana/provisioning/dashboards/flowly/logs.json \
  'sum by (level) (count_over_time({service="flowly-no-such-service"}[$__interval]))' flowly-no-such-service

log "... and LogQL panels read without LogPilot's reader key (401)"
if LOGPILOT_READ_KEY=not-the-reader-key "${CHECK[@]}" grafana/provisioning/dashboards/flowly/logs.json >"$WORK/no-key.out"; then
  cat "$WORK/no-key.out" >&2
  die "check-dashboards.py read LogPilot with a wrong key"
fi
grep -q 'HTTP 401' "$WORK/no-key.out" ||
  { cat "$WORK/no-key.out" >&2; die "check-dashboards.py failed, but not on LogPilot's 401"; }

log "every query of every dashboard"
LOGPILOT_READ_KEY="$READER_KEY" "${CHECK[@]}" "${DASHBOARDS[@]}"
