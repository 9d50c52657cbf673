#!/usr/bin/env python3
"""Writes Flowly's Grafana dashboards (grafana/provisioning/dashboards/flowly/*.json).

The dashboards are code: edit this file, run it, commit both. `--check` exits 1 when a JSON file
differs from what this file makes (scripts/dashboards-test.sh runs it), so the two never drift.

    grafana/build-dashboards.py          # (re)write the JSON files
    grafana/build-dashboards.py --check  # are they up to date?

Only the standard library. Every PromQL query goes to the datasource uid `prometheus`, every
LogQL query to `logpilot` (LogPilot, read as Loki); both are provisioned with these fixed uids
by grafana/provisioning/datasources/datasources.yml.
"""

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "provisioning" / "dashboards" / "flowly"

PROM = {"type": "prometheus", "uid": "prometheus"}
LOKI = {"type": "loki", "uid": "logpilot"}
RATE = "$__rate_interval"

# ---------------------------------------------------------------------------- building blocks


def target(expr, legend="", instant=False, ds=PROM, fmt=None):
    t = {"datasource": ds, "expr": expr, "refId": ""}
    if ds is PROM:
        t["legendFormat"] = legend or "__auto"
        t["range"] = not instant
        t["instant"] = instant
        if fmt:
            t["format"] = fmt
    else:
        t["queryType"] = "range"
        if legend:
            t["legendFormat"] = legend
    return t


def panel(kind, title, targets, w=12, h=8, unit=None, desc="", ds=PROM, options=None, field=None):
    if isinstance(targets, dict):
        targets = [targets]
    for i, t in enumerate(targets):
        t["refId"] = chr(ord("A") + i)
    defaults = dict(field or {})
    if unit:
        defaults["unit"] = unit
    p = {
        "type": kind,
        "title": title,
        "description": desc,
        "datasource": ds,
        "gridPos": {"h": h, "w": w, "x": 0, "y": 0},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
        "targets": targets,
    }
    if kind == "timeseries":
        p["options"] = options or {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
        defaults.setdefault("custom", {"fillOpacity": 10, "lineWidth": 1, "showPoints": "never"})
    return p


def ts(title, targets, **kw):
    return panel("timeseries", title, targets, **kw)


def stat(title, expr, unit=None, desc="", w=4, h=4, thresholds=None):
    field = {"color": {"mode": "thresholds"}}
    field["thresholds"] = {
        "mode": "absolute",
        "steps": thresholds or [{"color": "green", "value": None}],
    }
    # A ratio or a quantile of rates is undefined in a moment without traffic (0/0): such a stat
    # reads the time range and shows its last value, where one instant would show "No data".
    undefined_when_idle = "histogram_quantile" in expr or ") / " in expr
    return panel(
        "stat",
        title,
        target(expr, instant=not undefined_when_idle),
        w=w,
        h=h,
        unit=unit,
        desc=desc,
        field=field,
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
            "textMode": "auto",
        },
    )


def stat3(*args, **kw):
    """A stat three units wide (eight to a line)."""
    return stat(*args, w=3, **kw)


def table(title, expr, desc="", w=12, h=8):
    return panel(
        "table",
        title,
        target(expr, instant=True, fmt="table"),
        w=w,
        h=h,
        desc=desc,
        options={"showHeader": True, "sortBy": [{"desc": True, "displayName": "Value"}]},
    )


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [],
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0}}


def prom_var(name, label, query, all_value=".+"):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": PROM,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": all_value,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "sort": 1,
        "hide": 0,
    }


def loki_var(name, label, label_name, all_value=".+"):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": LOKI,
        "definition": f"label_values({label_name})",
        "query": {"type": 1, "label": label_name, "stream": "",
                  "refId": "LokiVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": all_value,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "sort": 1,
        "hide": 0,
    }


def textbox(name, label, default=""):
    return {"name": name, "label": label, "type": "textbox", "query": default,
            "current": {"selected": False, "text": default, "value": default},
            "options": [{"selected": True, "text": default, "value": default}], "hide": 0}


def layout(panels):
    """Places panels left to right in rows 24 units wide; a row header starts a new line."""
    x = y = line_h = 0
    for i, p in enumerate(panels, start=1):
        p["id"] = i
        g = p["gridPos"]
        if p["type"] == "row" or x + g["w"] > 24:
            y += line_h
            x = line_h = 0
        g["x"], g["y"] = x, y
        x += g["w"]
        line_h = max(line_h, g["h"])
        if p["type"] == "row":
            y += 1
            x = line_h = 0
    return panels


def dashboard(uid, title, desc, panels, variables=(), tags=()):
    return {
        "uid": uid,
        "title": title,
        "description": desc,
        "tags": ["flowly", *tags],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "links": [{"type": "dashboards", "tags": ["flowly"], "asDropdown": True,
                   "title": "Flowly dashboards", "includeVars": False, "keepTime": True}],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": list(variables)},
        "panels": layout(panels),
    }


# ---------------------------------------------------------------------------- Overview

APP = 'job="app",instance=~"$instance"'
HTTP = f'flowly_http_requests_total{{{APP},route=~"$route"}}'
HTTP_BUCKET = f'flowly_http_request_duration_seconds_bucket{{{APP},route=~"$route"}}'


def error_ratio_by_route(status_re):
    errors = f'sum by (route) (rate(flowly_http_requests_total{{{APP},route=~"$route",status=~"{status_re}"}}[{RATE}]))'
    total = f"sum by (route) (rate({HTTP}[{RATE}]))"
    # Routes without errors read 0 rather than dropping out of the graph.
    return f"({errors} or 0 * {total}) / {total}"


def overview():
    return dashboard(
        "flowly-overview",
        "Flowly · Overview",
        "RED per route of the app nodes (flowly serve): rate, errors, duration; sockets, the "
        "database pool and the health of PostgreSQL and Redis as each node sees them.",
        [
            stat3("Requests / s", f"sum(rate({HTTP}[{RATE}]))", "reqps"),
            stat3("Server errors (5xx)",
                 f'(sum(rate(flowly_http_requests_total{{{APP},route=~"$route",status=~"5.."}}[{RATE}])) or vector(0))'
                 f" / sum(rate({HTTP}[{RATE}]))", "percentunit",
                 thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 0.01}]),
            stat3("p99 latency",
                 f"histogram_quantile(0.99, sum by (le) (rate({HTTP_BUCKET}[{RATE}])))", "s",
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.25},
                             {"color": "red", "value": 1}]),
            stat3("In flight", f"sum(flowly_http_requests_in_flight{{{APP}}})", "short"),
            stat3("App nodes up", 'sum(up{job="app"})', "short",
                 desc="Nodes Prometheus scraped successfully (compose: every `app` address in DNS)."),
            stat3("Open sockets", f"sum(flowly_ws_connections{{{APP}}})", "short"),
            stat3("Workers up", 'sum(up{job="worker"})', "short",
                 thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
            stat3("nginx up", 'max(nginx_up{job="nginx-exporter"})', "short",
                 thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
            row("Rate"),
            ts("Requests / s by route", target(f"sum by (route) (rate({HTTP}[{RATE}]))", "{{route}}"),
               unit="reqps", w=12),
            ts("Requests / s by status class",
               target(f'sum by (class) (label_replace(rate({HTTP}[{RATE}]), "class", "${{1}}xx", "status", "(.).."))',
                      "{{class}}"), unit="reqps", w=12),
            row("Errors"),
            ts("Server errors (5xx) / requests, by route", target(error_ratio_by_route("5.."), "{{route}}"),
               unit="percentunit", w=12),
            ts("Client errors (4xx) / requests, by route", target(error_ratio_by_route("4.."), "{{route}}"),
               unit="percentunit", w=12,
               desc="Refusals: validation, not found, rate limits (429). A jump here is usually a client."),
            row("Duration"),
            ts("Latency (all routes)", [
                target(f"histogram_quantile(0.5, sum by (le) (rate({HTTP_BUCKET}[{RATE}])))", "p50"),
                target(f"histogram_quantile(0.95, sum by (le) (rate({HTTP_BUCKET}[{RATE}])))", "p95"),
                target(f"histogram_quantile(0.99, sum by (le) (rate({HTTP_BUCKET}[{RATE}])))", "p99"),
            ], unit="s", w=12),
            ts("p99 latency by route",
               target(f"histogram_quantile(0.99, sum by (route, le) (rate({HTTP_BUCKET}[{RATE}])))", "{{route}}"),
               unit="s", w=12),
            table("Requests in the time range by route and method",
                  f"sort_desc(sum by (route, method) (increase({HTTP}[$__range])))", w=12),
            table("Mean latency in the time range by route",
                  f"sort_desc(sum by (route) (increase(flowly_http_request_duration_seconds_sum{{{APP},route=~\"$route\"}}[$__range]))"
                  f" / sum by (route) (increase(flowly_http_request_duration_seconds_count{{{APP},route=~\"$route\"}}[$__range])))",
                  w=12),
            row("Edge (nginx)"),
            ts("nginx requests / s", target('sum(rate(nginx_http_requests_total{job="nginx-exporter"}[' + RATE + ']))',
                                          "requests"), w=8,
               desc="Everything nginx served: the API, sockets' upgrades, the web client's files."),
            ts("nginx connections by state", [
                target('sum(nginx_connections_active{job="nginx-exporter"})', "active"),
                target('sum(nginx_connections_reading{job="nginx-exporter"})', "reading"),
                target('sum(nginx_connections_writing{job="nginx-exporter"})', "writing"),
                target('sum(nginx_connections_waiting{job="nginx-exporter"})', "waiting (keep-alive, sockets)"),
            ], w=8),
            ts("nginx connections accepted and dropped / s", [
                target('sum(rate(nginx_connections_accepted{job="nginx-exporter"}[' + RATE + ']))', "accepted"),
                target('sum(rate(nginx_connections_accepted{job="nginx-exporter"}[' + RATE + ']))'
                       ' - sum(rate(nginx_connections_handled{job="nginx-exporter"}[' + RATE + ']))', "dropped"),
            ], w=8, desc="Dropped: accepted but not handled (worker_connections exhausted)."),
            row("Saturation and dependencies"),
            ts("Requests in flight by node",
               target(f"sum by (instance) (flowly_http_requests_in_flight{{{APP}}})", "{{instance}}"), w=8),
            ts("Database pool by state",
               target('sum by (state) (flowly_db_pool_connections{job=~"app|worker",state=~"in_use|idle"})',
                      "{{state}}"), w=8,
               desc="Connections of every Flowly process's pool (app nodes and workers)."),
            ts("Dependency checks (1 = answered within 2 s)",
               target('min by (job, dependency) (flowly_dependency_up{job=~"app|worker"})', "{{job}} → {{dependency}}"),
               w=8, field={"min": 0, "max": 1}),
        ],
        [prom_var("instance", "Node", 'label_values(flowly_build_info{job="app"}, instance)'),
         prom_var("route", "Route", 'label_values(flowly_http_requests_total{job="app"}, route)')],
    )


# ---------------------------------------------------------------------------- Real-time

WS = 'job="app",instance=~"$instance"'
LAG = f"flowly_ws_delivery_lag_seconds_bucket{{{WS}}}"


def realtime():
    return dashboard(
        "flowly-realtime",
        "Flowly · Real-time",
        "WebSockets of the app nodes: open sockets, frames, delivery lag from an event's commit "
        "to its write to a socket, replays on resume, and why sockets close.",
        [
            stat("Open sockets", f"sum(flowly_ws_connections{{{WS}}})", "short"),
            stat("Delivery lag p99", f"histogram_quantile(0.99, sum by (le) (rate({LAG}[{RATE}])))", "s",
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.5},
                             {"color": "red", "value": 2}]),
            stat("Frames out / s", f'sum(rate(flowly_ws_frames_total{{{WS},direction="out"}}[{RATE}]))', "short"),
            stat("Frames in / s", f'sum(rate(flowly_ws_frames_total{{{WS},direction="in"}}[{RATE}]))', "short"),
            stat("Slow-consumer closes", f'sum(increase(flowly_ws_closes_total{{{WS},code="4408"}}[$__range]))',
                 "short", desc="Sockets closed with 4408 in the time range: their queue overflowed or a write "
                               "timed out. They reconnect and resume.",
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}]),
            stat("Resumes with replay", f"sum(increase(flowly_ws_resume_replays_total{{{WS}}}[$__range]))", "short"),
            row("Sockets"),
            ts("Open sockets by node", target(f"sum by (instance) (flowly_ws_connections{{{WS}}})", "{{instance}}"),
               w=12),
            ts("Sockets opened and closed / s", [
                target(f"sum(rate(flowly_ws_connections_opened_total{{{WS}}}[{RATE}]))", "opened"),
                target(f"sum(rate(flowly_ws_closes_total{{{WS}}}[{RATE}]))", "closed"),
            ], w=12),
            ts("Closes / s by code", target(f"sum by (code) (rate(flowly_ws_closes_total{{{WS}}}[{RATE}]))", "{{code}}"),
               w=12, desc="client: the client left first. 1001 server going away, 1009 frame too big, "
                          "4000 no heartbeat, 4401 session ended, 4403 forbidden origin, "
                          "4408 slow consumer, 4429 too many sockets or frames."),
            ts("Slow-consumer closes / s",
               target(f'sum(rate(flowly_ws_closes_total{{{WS},code="4408"}}[{RATE}]))', "4408 slow consumer"), w=12),
            row("Frames"),
            ts("Frames out / s by type",
               target(f'sum by (type) (rate(flowly_ws_frames_total{{{WS},direction="out"}}[{RATE}]))', "{{type}}"),
               w=12, desc="event: live room events; replay: events read from the log (resume, gap, join); "
                          "ephemeral: typing, presence, read markers, assistant."),
            ts("Frames in / s by type",
               target(f'sum by (type) (rate(flowly_ws_frames_total{{{WS},direction="in"}}[{RATE}]))', "{{type}}"),
               w=12),
            row("Delivery"),
            ts("Delivery lag (commit → socket write)", [
                target(f"histogram_quantile(0.5, sum by (le) (rate({LAG}[{RATE}])))", "p50"),
                target(f"histogram_quantile(0.95, sum by (le) (rate({LAG}[{RATE}])))", "p95"),
                target(f"histogram_quantile(0.99, sum by (le) (rate({LAG}[{RATE}])))", "p99"),
            ], unit="s", w=12),
            panel("heatmap", "Delivery lag distribution",
                  target(f"sum by (le) (increase({LAG}[{RATE}]))", "{{le}}", fmt="heatmap"), w=12,
                  options={"calculate": False, "yAxis": {"unit": "s"}, "color": {"mode": "scheme",
                           "scheme": "Oranges"}, "cellGap": 1}),
            ts("Replays on resume / s",
               target(f"sum(rate(flowly_ws_resume_replays_total{{{WS}}}[{RATE}]))", "resumes with replay"), w=12),
            ts("Replayed events / s by reason",
               target(f"sum by (reason) (rate(flowly_ws_replayed_events_total{{{WS}}}[{RATE}]))", "{{reason}}"),
               w=12),
        ],
        [prom_var("instance", "Node", 'label_values(flowly_ws_connections{job="app"}, instance)')],
    )


# ---------------------------------------------------------------------------- Assistant

JOBS = "flowly_assistant_jobs_total"
JOB_BUCKET = "flowly_assistant_job_duration_seconds_bucket"


def assistant():
    return dashboard(
        "flowly-assistant",
        "Flowly · Assistant",
        "The assistant's workers (flowly worker): queue depth, job rate, failures and latency, "
        "and how far the indexer is behind the rooms' event logs.",
        [
            stat("Workers up", 'sum(up{job="worker"})', "short",
                 thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
            stat("Requests queued", 'max(flowly_assistant_queue_depth{stream="requests"})', "short"),
            stat("Index hints queued", 'max(flowly_assistant_queue_depth{stream="index"})', "short"),
            stat("Index lag (events)", "max(flowly_assistant_index_lag_events)", "short"),
            stat("Index lag (oldest)", "max(flowly_assistant_index_lag_seconds)", "s",
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 60},
                             {"color": "red", "value": 600}]),
            stat("Dead letters", "sum(max by (stream) (flowly_assistant_dead_letters))", "short",
                 thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}]),
            row("Queue"),
            ts("Queue depth by stream", target("max by (stream) (flowly_assistant_queue_depth)", "{{stream}}"),
               w=12, desc="Jobs waiting or in progress; every worker reports the same value."),
            ts("Dead letters by stream", target("max by (stream) (flowly_assistant_dead_letters)", "{{stream}}"),
               w=12),
            row("Jobs"),
            ts("Jobs / s by stream and outcome",
               target(f"sum by (stream, outcome) (rate({JOBS}[{RATE}]))", "{{stream}} {{outcome}}"), w=12),
            ts("Failed, retried or dead-lettered / handled, by stream",
               target(f'sum by (stream) (rate({JOBS}{{outcome=~"failed|retried|dead"}}[{RATE}])) '
                      f"/ sum by (stream) (rate({JOBS}[{RATE}]))", "{{stream}}"),
               unit="percentunit", w=12),
            ts("Job latency p50 by stream",
               target(f"histogram_quantile(0.5, sum by (stream, le) (rate({JOB_BUCKET}[{RATE}])))", "{{stream}}"),
               unit="s", w=12, desc="From a job's delivery to its outcome."),
            ts("Job latency p99 by stream",
               target(f"histogram_quantile(0.99, sum by (stream, le) (rate({JOB_BUCKET}[{RATE}])))", "{{stream}}"),
               unit="s", w=12),
            row("Index"),
            ts("Index lag (room events not yet indexed)", target("max(flowly_assistant_index_lag_events)", "events"),
               w=12),
            ts("Index lag (age of the oldest unindexed event)",
               target("max(flowly_assistant_index_lag_seconds)", "oldest"), unit="s", w=12),
            ts("Worker database pool", target('sum by (state) (flowly_db_pool_connections{job="worker"})', "{{state}}"),
               w=12),
            ts("Worker dependency checks (1 = up)",
               target('min by (dependency) (flowly_dependency_up{job="worker"})', "{{dependency}}"), w=12,
               field={"min": 0, "max": 1}),
        ],
    )


# ---------------------------------------------------------------------------- PostgreSQL

DB = 'datname=~"$datname"'


def postgres():
    return dashboard(
        "flowly-postgres",
        "Flowly · PostgreSQL",
        "PostgreSQL through postgres_exporter, and the pools of the Flowly processes.",
        [
            stat("PostgreSQL up", 'max(pg_up{job="postgres-exporter"})', "short",
                 thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
            stat("Connections", f"sum(pg_stat_database_numbackends{{{DB}}})", "short"),
            stat("Max connections", "max(pg_settings_max_connections)", "short"),
            stat("Commits / s", f"sum(rate(pg_stat_database_xact_commit{{{DB}}}[{RATE}]))", "short"),
            stat("Cache hit ratio",
                 f"sum(rate(pg_stat_database_blks_hit{{{DB}}}[{RATE}])) / (sum(rate(pg_stat_database_blks_hit{{{DB}}}[{RATE}]))"
                 f" + sum(rate(pg_stat_database_blks_read{{{DB}}}[{RATE}])))", "percentunit",
                 thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 0.9},
                             {"color": "green", "value": 0.99}]),
            stat("Deadlocks", f"sum(increase(pg_stat_database_deadlocks{{{DB}}}[$__range]))", "short"),
            row("Load"),
            ts("Transactions / s", [
                target(f"sum(rate(pg_stat_database_xact_commit{{{DB}}}[{RATE}]))", "commit"),
                target(f"sum(rate(pg_stat_database_xact_rollback{{{DB}}}[{RATE}]))", "rollback"),
            ], w=12),
            ts("Rows / s", [
                target(f"sum(rate(pg_stat_database_tup_fetched{{{DB}}}[{RATE}]))", "fetched"),
                target(f"sum(rate(pg_stat_database_tup_inserted{{{DB}}}[{RATE}]))", "inserted"),
                target(f"sum(rate(pg_stat_database_tup_updated{{{DB}}}[{RATE}]))", "updated"),
                target(f"sum(rate(pg_stat_database_tup_deleted{{{DB}}}[{RATE}]))", "deleted"),
            ], w=12),
            ts("Block reads / s (cache hits and disk)", [
                target(f"sum(rate(pg_stat_database_blks_hit{{{DB}}}[{RATE}]))", "hit"),
                target(f"sum(rate(pg_stat_database_blks_read{{{DB}}}[{RATE}]))", "read"),
            ], w=12),
            ts("Temporary bytes / s", target(f"sum(rate(pg_stat_database_temp_bytes{{{DB}}}[{RATE}]))", "temp"),
               unit="Bps", w=12, desc="Sorts and hashes that spilled to disk (work_mem too small)."),
            row("Connections"),
            ts("Connections by database", target(f"sum by (datname) (pg_stat_database_numbackends{{{DB}}})",
                                                 "{{datname}}"), w=8),
            ts("Connections by state", target(f"sum by (state) (pg_stat_activity_count{{{DB}}})", "{{state}}"), w=8),
            ts("Flowly pools by state",
               target('sum by (job, state) (flowly_db_pool_connections{job=~"app|worker",state=~"in_use|idle"})',
                      "{{job}} {{state}}"), w=8),
            ts("Locks by mode", target(f"sum by (mode) (pg_locks_count{{{DB}}})", "{{mode}}"), w=12),
            ts("Database size", target(f"sum by (datname) (pg_database_size_bytes{{{DB}}})", "{{datname}}"),
               unit="bytes", w=12),
            ts("Flowly's check of PostgreSQL (seconds)",
               target('max by (job) (flowly_dependency_check_seconds{dependency="postgres"})', "{{job}}"),
               unit="s", w=12),
            ts("Conflicts and deadlocks / s", [
                target(f"sum(rate(pg_stat_database_deadlocks{{{DB}}}[{RATE}]))", "deadlocks"),
                target(f"sum(rate(pg_stat_database_conflicts{{{DB}}}[{RATE}]))", "conflicts"),
            ], w=12),
        ],
        [prom_var("datname", "Database", "label_values(pg_stat_database_numbackends, datname)")],
    )


# ---------------------------------------------------------------------------- Redis

R = 'job="redis-exporter"'


def redis():
    return dashboard(
        "flowly-redis",
        "Flowly · Redis",
        "Redis through redis_exporter: sessions, rate limits, presence, the fan-out channel and "
        "the assistant's job streams all live here.",
        [
            stat("Redis up", f"max(redis_up{{{R}}})", "short",
                 thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
            stat("Clients", f"sum(redis_connected_clients{{{R}}})", "short"),
            stat("Memory used", f"sum(redis_memory_used_bytes{{{R}}})", "bytes"),
            stat("Commands / s", f"sum(rate(redis_commands_processed_total{{{R}}}[{RATE}]))", "short"),
            stat("Keys", f"sum(redis_db_keys{{{R}}})", "short"),
            stat("Uptime", f"max(redis_uptime_in_seconds{{{R}}})", "s"),
            row("Load"),
            ts("Commands / s", target(f"sum(rate(redis_commands_processed_total{{{R}}}[{RATE}]))", "commands"), w=12),
            ts("Top commands / s", target(f"topk(10, sum by (cmd) (rate(redis_commands_total{{{R}}}[{RATE}])))",
                                          "{{cmd}}"), w=12),
            ts("Mean command time by command",
               target(f"topk(10, sum by (cmd) (rate(redis_commands_duration_seconds_total{{{R}}}[{RATE}]))"
                      f" / sum by (cmd) (rate(redis_commands_total{{{R}}}[{RATE}])))", "{{cmd}}"),
               unit="s", w=12),
            ts("Keyspace hit ratio",
               target(f"sum(rate(redis_keyspace_hits_total{{{R}}}[{RATE}])) / (sum(rate(redis_keyspace_hits_total{{{R}}}[{RATE}]))"
                      f" + sum(rate(redis_keyspace_misses_total{{{R}}}[{RATE}])))", "hits"),
               unit="percentunit", w=12),
            row("Resources"),
            ts("Memory", [
                target(f"sum(redis_memory_used_bytes{{{R}}})", "used"),
                target(f"sum(redis_memory_used_rss_bytes{{{R}}})", "rss"),
            ], unit="bytes", w=8),
            ts("Clients", [
                target(f"sum(redis_connected_clients{{{R}}})", "connected"),
                target(f"sum(redis_blocked_clients{{{R}}})", "blocked (stream reads)"),
            ], w=8),
            ts("Network", [
                target(f"sum(rate(redis_net_input_bytes_total{{{R}}}[{RATE}]))", "in"),
                target(f"sum(rate(redis_net_output_bytes_total{{{R}}}[{RATE}]))", "out"),
            ], unit="Bps", w=8),
            ts("Keys by database", target(f"sum by (db) (redis_db_keys{{{R}}})", "{{db}}"), w=8),
            ts("Pub/sub channels", target(f"sum(redis_pubsub_channels{{{R}}})", "channels"), w=8,
               desc="Flowly nodes fan out over one channel per deployment."),
            ts("Flowly's check of Redis (seconds)",
               target('max by (job) (flowly_dependency_check_seconds{dependency="redis"})', "{{job}}"),
               unit="s", w=8),
        ],
    )


# ---------------------------------------------------------------------------- LogPilot

LP = 'job="logpilot"'


def logpilot():
    return dashboard(
        "flowly-logpilot",
        "Flowly · LogPilot",
        "The log broker: what it ingests per channel, what it refuses, how far consumers are "
        "behind, its disk and its query latency.",
        [
            stat("LogPilot up", f"max(up{{{LP}}})", "short",
                 thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
            stat("Events / s", f"sum(rate(logpilot_ingest_events_total{{{LP}}}[{RATE}]))", "short"),
            stat("Ingest", f"sum(rate(logpilot_ingest_bytes_total{{{LP}}}[{RATE}]))", "Bps"),
            stat("Disk", f"sum(logpilot_disk_bytes{{{LP}}})", "bytes"),
            stat("Largest consumer lag", f"max(logpilot_consumer_lag{{{LP}}})", "short"),
            stat("Query p99", f"histogram_quantile(0.99, sum by (le) (rate(logpilot_query_duration_seconds_bucket{{{LP}}}[{RATE}])))",
                 "s"),
            row("Ingest"),
            ts("Events / s by channel",
               target(f'sum by (channel) (rate(logpilot_ingest_events_total{{{LP},channel=~"$channel"}}[{RATE}]))',
                      "{{channel}}"), w=12),
            ts("Bytes / s by channel",
               target(f'sum by (channel) (rate(logpilot_ingest_bytes_total{{{LP},channel=~"$channel"}}[{RATE}]))',
                      "{{channel}}"), unit="Bps", w=12),
            ts("Rejected requests / s by reason",
               target(f"sum by (reason) (rate(logpilot_rejected_requests_total{{{LP}}}[{RATE}]))", "{{reason}}"),
               w=12, desc="Requests LogPilot refused, by error code: unauthorized (a shipper with a wrong "
                          "key), rate_limited (429), payload_too_large, invalid_event..."),
            ts("Consumer lag by group",
               target(f'max by (group, channel) (logpilot_consumer_lag{{{LP},channel=~"$channel"}})',
                      "{{group}} on {{channel}}"), w=12,
               desc="Records between a consumer group's committed offset and the end of its channel."),
            row("Storage and queries"),
            ts("Disk by channel",
               target(f'sum by (channel) (logpilot_disk_bytes{{{LP},channel=~"$channel"}})', "{{channel}}"),
               unit="bytes", w=12),
            ts("Query latency", [
                target(f"histogram_quantile(0.5, sum by (le) (rate(logpilot_query_duration_seconds_bucket{{{LP}}}[{RATE}])))", "p50"),
                target(f"histogram_quantile(0.99, sum by (le) (rate(logpilot_query_duration_seconds_bucket{{{LP}}}[{RATE}])))", "p99"),
            ], unit="s", w=12),
        ],
        [prom_var("channel", "Channel", 'label_values(logpilot_ingest_events_total{job="logpilot"}, channel)')],
        tags=["logpilot"],
    )


# ---------------------------------------------------------------------------- Logs

SVC = 'service=~"$service"'


def logs():
    return dashboard(
        "flowly-logs",
        "Flowly · Logs",
        "Every process's logs from LogPilot (read as Loki): volume by level and service, the "
        "latest errors with their request ids, and a searchable stream.",
        [
            ts("Log volume by level",
               target(f"sum by (level) (count_over_time({{{SVC}}}[$__interval]))", "{{level}}", ds=LOKI),
               ds=LOKI, w=12, options={"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                                       "tooltip": {"mode": "multi", "sort": "desc"}},
               field={"custom": {"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal"}}}),
            ts("Log volume by service",
               target(f"sum by (service) (count_over_time({{{SVC}}}[$__interval]))", "{{service}}", ds=LOKI),
               ds=LOKI, w=12, options={"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                                       "tooltip": {"mode": "multi", "sort": "desc"}},
               field={"custom": {"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal"}}}),
            ts("Errors and warnings / s by service",
               target(f'sum by (service, level) (rate({{{SVC},level=~"error|warn"}}[$__interval]))',
                      "{{service}} {{level}}", ds=LOKI), ds=LOKI, w=12),
            # A line is the event's message; request_id is a field of the record (not a label):
            # `keep` makes it one so the table can group by it.
            panel("table", "Requests with errors (by request id)",
                  target(f'topk(20, sum by (request_id) (count_over_time({{{SVC},level="error"}} | request_id != "" | keep request_id [$__range])))',
                         ds=LOKI), ds=LOKI, w=12,
                  desc="The request ids of the requests that logged errors; search one in the stream below."),
            panel("logs", "Latest errors (with request ids)",
                  target(f'{{{SVC},level="error"}} | line_format "[{{{{.request_id}}}}] {{{{.__line__}}}}: {{{{.error}}}}"',
                         ds=LOKI), ds=LOKI, w=24, h=10,
                  desc="Each error event as [request id] message: cause (the request id is empty for an "
                       "error outside a request).",
                  options={"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending",
                           "enableLogDetails": True, "dedupStrategy": "none", "prettifyLogMessage": False}),
            # The request id goes into the line before the search, so a copied id finds its request.
            panel("logs", "Log stream",
                  target(f'{{{SVC},level=~"$level"}} | line_format "[{{{{.request_id}}}}] {{{{.__line__}}}}" |~ "$search"',
                         ds=LOKI), ds=LOKI, w=24, h=12,
                  desc="Each event as [request id] message, filtered by service, level and the search "
                       "regex (which sees the request id too).",
                  options={"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending",
                           "enableLogDetails": True, "dedupStrategy": "none", "prettifyLogMessage": False}),
        ],
        [loki_var("service", "Service", "service"),
         loki_var("level", "Level", "level"),
         textbox("search", "Search (regex)")],
        tags=["logpilot"],
    )


DASHBOARDS = {
    "overview.json": overview,
    "realtime.json": realtime,
    "assistant.json": assistant,
    "postgres.json": postgres,
    "redis.json": redis,
    "logpilot.json": logpilot,
    "logs.json": logs,
}


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] and not check:
        sys.exit(__doc__)
    stale = []
    OUT.mkdir(parents=True, exist_ok=True)
    for name, build in DASHBOARDS.items():
        text = json.dumps(build(), indent=2) + "\n"
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    known = set(DASHBOARDS)
    extra = [str(p) for p in OUT.glob("*.json") if p.name not in known]
    if check and (stale or extra):
        for p in stale:
            print(f"out of date: {p} (run grafana/build-dashboards.py)", file=sys.stderr)
        for p in extra:
            print(f"not made by grafana/build-dashboards.py: {p}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
