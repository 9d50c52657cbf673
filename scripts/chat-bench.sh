#!/usr/bin/env bash
# chat-bench.sh — the same-work chat benchmark: the `chat-rooms-10` profile (every user online in
# rooms of 10, Poisson sends, every member receiving on a WebSocket, nothing else) at stepped send
# rates, each step a scripts/capacity.sh run. Prints, per step: messages/s offered and sent,
# deliveries/s, delivery p50/p99, send p99, errors, lost or duplicated messages, and the CPU-seconds
# the server side (nodes + PostgreSQL + Redis) spent per 1,000 deliveries; and the highest step
# that held delivery p99 < 200 ms with no error and no loss.
#
#   scripts/chat-bench.sh [--steps "1 2 4 8 16 32"] [--duration 60] [--nodes 2] [--generators 2]
#                         [--durability production|development] [--out DIR]
#
# A step of s sends 10*s messages a second (the profile's rate times --scale). Loopback only,
# bounded: each step stops by itself (capacity.sh); the whole run is at most steps x (duration +
# ramp + a few minutes). The table is also written to DIR/summary.md.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

STEP_LIST=(1 2 4 8 16 32) DURATION=60 NODES=2 GENERATORS=2 DURABILITY=production OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) read -r -a STEP_LIST <<<"$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --nodes) NODES="$2"; shift 2 ;;
    --generators) GENERATORS="$2"; shift 2 ;;
    --durability) DURABILITY="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown argument $1 (see the top of $0)" >&2; exit 2 ;;
  esac
done
OUT="${OUT:-$ROOT_DIR/target/chat-bench/$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"

for step in "${STEP_LIST[@]}"; do
  echo "[chat-bench] step $step: $(python3 -c "print(10 * $step)") messages/s for ${DURATION}s" >&2
  # A step that misses its targets exits non-zero; the table says so, and the next step runs.
  scripts/capacity.sh --profile chat-rooms-10 --scale "$step" --duration "$DURATION" --ramp 60 \
    --nodes "$NODES" --workers 0 --generators "$GENERATORS" --no-storm --no-pgbench \
    --durability "$DURABILITY" --verify --out "$OUT/step-$step" >"$OUT/step-$step.log" 2>&1 || true
done

python3 - "$OUT" "${STEP_LIST[@]}" <<'PY'
import glob, json, sys
out, steps = sys.argv[1], sys.argv[2:]
rows, best = [], None
head = ["| messages/s offered | sent/s | deliveries/s | delivery p50 ms | delivery p99 ms | send p99 ms | errors | lost or duplicated | server CPU s per 1,000 deliveries | met |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
durability = ""
for step in steps:
    d = f"{out}/step-{step}"
    try:
        report = json.load(open(f"{d}/report.json"))
        procs = json.load(open(f"{d}/processes.json"))
    except (OSError, ValueError) as e:
        rows.append(f"| {10 * float(step):g} | (no report: {e}) | | | | | | | | no |")
        continue
    durability = report.get("environment", {}).get("postgres durability", durability)
    ops = {o["name"]: o for o in report["ops"]}
    send = ops.get("send_message", {})
    server = sum(r["cpu_percent"] for r in procs["rows"]
                 if r["process"].startswith("node") or r["process"].startswith("postgres") or r["process"] == "redis")
    cpu_secs = server / 100.0 * procs["seconds"]
    delivered = report["delivered"]
    per_k = cpu_secs / delivered * 1000 if delivered else float("nan")
    # What the clients saw (flowly-traffic run --verify): events missed or seen twice, acknowledged
    # sends never seen, retries that made a second message.
    lost = 0
    for gen in glob.glob(f"{d}/gen-*.json"):
        v = json.load(open(gen)).get("verification") or {}
        lost += sum(v.get(k, 0) for k in ("missing", "duplicates", "acknowledged_not_seen", "client_id_duplicates", "client_id_reused"))
    errors = report["verdict"]["error_rate"]
    met = report["delivery"]["p99_ms"] < 200 and errors == 0 and lost == 0 and delivered > 0
    if met:
        best = step
    rows.append(f"| {10 * float(step):g} | {send.get('per_sec', 0):.1f} | {report['delivered_per_sec']:.0f} | "
                f"{report['delivery']['p50_ms']:.1f} | {report['delivery']['p99_ms']:.1f} | "
                f"{send.get('latency', {}).get('p99_ms', 0):.1f} | "
                f"{100 * errors:.3f}% | {lost} | {per_k:.3f} | {'yes' if met else 'no'} |")
text = "\n".join([f"Chat benchmark (chat-rooms-10), PostgreSQL durability: {durability}", ""] + head + rows + [
    "", f"Highest rate that held delivery p99 < 200 ms with no error and no loss: "
        + (f"{10 * float(best):g} messages/s" if best else "none of the steps")])
open(f"{out}/summary.md", "w").write(text + "\n")
print(text)
PY
