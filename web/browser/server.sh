#!/usr/bin/env bash
# server.sh start|restart|stop <state-dir> — run `flowly serve` and one `flowly worker` (the
# assistant) in the background for the browser end-to-end run, so that the run can restart the
# server (FLOWLY_E2E_RESTART_CMD) on the same port and database.
#
# The server takes its whole configuration from the caller's environment (FLOWLY_DATABASE__URL,
# FLOWLY_SERVER__LISTEN, FLOWLY_REDIS__KEY_PREFIX, …, exported), so a restart started from inside
# the run gets exactly the same settings. FLOWLY_BIN names the binary
# (default $CARGO_TARGET_DIR/debug/flowly, CARGO_TARGET_DIR defaulting to ~/.cache/flowly/target).
# <state-dir> holds `pid`, `worker.pid`, `server.log` and `worker.log` (appended across restarts).
#
#   start    start the worker (once) and the server; return once /readyz answers (exit 1 after 30 s)
#   restart  stop the server (SIGTERM, wait for exit) then start it; the worker keeps running
#   stop     SIGTERM both and wait for exit (SIGKILL after 20 s)
set -euo pipefail

cmd="${1:?usage: server.sh start|restart|stop <state-dir>}"
dir="${2:?usage: server.sh start|restart|stop <state-dir>}"
bin="${FLOWLY_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/flowly/target}/debug/flowly}"
mkdir -p "$dir"

stop() { # [pid-file]
  local file="${1:-$dir/pid}" pid
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  rm -f "$file"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "server.sh: $pid did not stop after SIGTERM; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

start() {
  local listen="${FLOWLY_SERVER__LISTEN:?FLOWLY_SERVER__LISTEN must be set (host:port)}"
  [ -x "$bin" ] || { echo "server.sh: no flowly binary at $bin" >&2; exit 1; }
  if [ ! -f "$dir/worker.pid" ]; then
    setsid nohup "$bin" worker >>"$dir/worker.log" 2>&1 </dev/null &
    echo $! >"$dir/worker.pid"
  fi
  # setsid + nohup: the server outlives the shell that started it (e.g. the run's restart command).
  setsid nohup "$bin" serve >>"$dir/server.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  for _ in $(seq 1 150); do
    if curl -fsS "http://$listen/readyz" >/dev/null 2>&1; then return 0; fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
    sleep 0.2
  done
  echo "server.sh: flowly serve on $listen did not become ready; last log lines:" >&2
  tail -n 20 "$dir/server.log" >&2 || true
  exit 1
}

case "$cmd" in
  start) start ;;
  restart) stop; start ;;
  stop) stop; stop "$dir/worker.pid" ;;
  *) echo "server.sh: unknown command $cmd" >&2; exit 2 ;;
esac
