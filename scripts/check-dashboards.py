#!/usr/bin/env python3
"""check-dashboards.py — every panel of every Grafana dashboard shows data.

Reads the dashboard JSON files, substitutes Grafana's variables the way Grafana does
($__rate_interval, $__interval, $__range, template variables at "All"), and runs every query:
PromQL against Prometheus's HTTP API, LogQL against a Loki API (LogPilot). A query that returns
no series, or only NaN, or no log line, is a failure naming the dashboard, the panel and the
query. Template variables' own queries must return values too.

    LOGPILOT_READ_KEY=... check-dashboards.py --prometheus URL --loki URL
                        --start UNIX --end UNIX --scrape-interval SECS DASHBOARD.json...

LogQL requests carry `Authorization: Bearer $LOGPILOT_READ_KEY` when the variable is set, as
Grafana's LogPilot datasource does (grafana/provisioning/datasources/datasources.yml). Nothing is
skipped: a panel none of whose queries ran (all hidden) is counted as unchecked and fails the
run, like a panel without data. Exit status 1 when a query fails, a panel is unchecked or the
dashboards are malformed.

Only the standard library.
"""

import argparse
import json
import math
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

DATASOURCES = {"prometheus": "prometheus", "logpilot": "loki"}


class Checker:
    def __init__(self, args):
        self.args = args
        self.start = args.start
        self.end = args.end
        self.scrape = args.scrape_interval
        # Grafana: $__interval is the step (range / max data points, at least the datasource's
        # scrape interval); $__rate_interval = max($__interval + scrape, 4 * scrape).
        self.step = max(self.scrape, (self.end - self.start) // 100 or 1)
        self.rate_interval = max(self.step + self.scrape, 4 * self.scrape)
        key = os.environ.get("LOGPILOT_READ_KEY", "")
        self.loki_headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.failures = []
        self.unchecked = []
        self.panels = 0
        self.passed = 0

    # ------------------------------------------------------------------ HTTP

    def get(self, base, path, params, headers=None):
        url = f"{base.rstrip('/')}{path}?{urllib.parse.urlencode(params, doseq=True)}"
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            body = e.read().decode(errors="replace")[:300]
            return {"status": "error", "error": f"HTTP {e.code}: {body}"}
        except (urllib.error.URLError, OSError, ValueError) as e:
            return {"status": "error", "error": str(e)}

    # ------------------------------------------------------------------ variables

    def builtins(self):
        rng = self.end - self.start
        return {
            "__rate_interval": f"{self.rate_interval}s",
            "__interval_ms": str(self.step * 1000),
            "__interval": f"{self.step}s",
            "__range_ms": str(rng * 1000),
            "__range_s": str(rng),
            "__range": f"{rng}s",
        }

    @staticmethod
    def var_value(var):
        current = var.get("current") or {}
        value = current.get("value", var.get("query", ""))
        if isinstance(value, list):
            if value == ["$__all"] or "$__all" in value:
                return var.get("allValue") or ".*"
            return "|".join(value)
        if value == "$__all":
            return var.get("allValue") or ".*"
        return value if isinstance(value, str) else ""

    def substitute(self, text, values):
        # Longest names first, so $__interval does not eat $__interval_ms.
        for name in sorted(values, key=len, reverse=True):
            value = values[name]
            text = text.replace("${" + name + "}", value)
            text = re.sub(r"\$" + re.escape(name) + r"(?![A-Za-z0-9_])", lambda _: value, text)
            text = text.replace("[[" + name + "]]", value)
        return text

    # ------------------------------------------------------------------ queries

    def prometheus(self, expr, instant):
        base = self.args.prometheus
        if instant:
            reply = self.get(base, "/api/v1/query", {"query": expr, "time": self.end})
        else:
            reply = self.get(base, "/api/v1/query_range",
                             {"query": expr, "start": self.start, "end": self.end, "step": self.step})
        if reply.get("status") != "success":
            return None, f"error: {reply.get('error')}"
        data = reply["data"]
        result = data.get("result", [])
        if data.get("resultType") == "scalar":
            result = [{"value": result}]
        series = 0
        for item in result:
            samples = item.get("values") or ([item["value"]] if "value" in item else [])
            if any(finite(v) for _, v in samples):
                series += 1
        if series == 0:
            return None, f"no data ({len(result)} series, none with a finite value)"
        return series, None

    def loki(self, expr):
        ns = 1_000_000_000
        reply = self.get(self.args.loki, "/loki/api/v1/query_range",
                         {"query": expr, "start": self.start * ns, "end": self.end * ns,
                          "step": f"{self.step}s", "limit": 100, "direction": "backward"},
                         self.loki_headers)
        if reply.get("status") != "success":
            return None, f"error: {reply.get('error')}"
        data = reply["data"]
        result = data.get("result", [])
        kind = data.get("resultType")
        if kind == "streams":
            lines = sum(len(s.get("values", [])) for s in result)
            return (lines, None) if lines else (None, "no log lines")
        series = sum(1 for s in result if any(finite(v) for _, v in s.get("values", [])))
        return (series, None) if series else (None, f"no data ({kind}, {len(result)} series)")

    # ------------------------------------------------------------------ dashboards

    def check_variable(self, dash, var):
        ds = (var.get("datasource") or {}).get("uid")
        where = f"{dash} / variable ${var['name']}"
        if var.get("type") != "query":
            return
        if ds == "logpilot":
            label = (var.get("query") or {}).get("label") or ""
            reply = self.get(self.args.loki, f"/loki/api/v1/label/{urllib.parse.quote(label)}/values",
                             {"start": self.start * 1_000_000_000, "end": self.end * 1_000_000_000},
                             self.loki_headers)
            values = reply.get("data") or []
        else:
            query = var.get("definition") or (var.get("query") or {}).get("query", "")
            m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", query)
            if not m:
                self.failures.append(f"{where}: only label_values(selector, label) is checked: {query}")
                return
            selector, label = m.groups()
            reply = self.get(self.args.prometheus, f"/api/v1/label/{label}/values",
                             {"match[]": selector, "start": self.start, "end": self.end})
            values = reply.get("data") or []
        if values:
            self.passed += 1
            print(f"  ok        variable ${var['name']}: {len(values)} values")
        else:
            self.failures.append(f"{where}: no values ({reply.get('error', 'empty')})")

    def check_dashboard(self, path):
        try:
            with open(path, encoding="utf-8") as f:
                dash = json.load(f)
        except (OSError, ValueError) as e:
            self.failures.append(f"{path}: unreadable: {e}")
            return
        title = dash.get("title", path)
        panels = list(flatten(dash.get("panels", [])))
        queried = [p for p in panels if p.get("type") not in ("row", "text")]
        print(f"{title} ({path}): {len(queried)} panels")
        for problem in structure_problems(dash, panels):
            self.failures.append(f"{title}: {problem}")
        values = self.builtins()
        for var in dash.get("templating", {}).get("list", []):
            values[var["name"]] = self.var_value(var)
            self.check_variable(title, var)
        self.panels += len(queried)
        for p in queried:
            visible = [t for t in p.get("targets", []) if not t.get("hide")]
            if not visible:
                self.unchecked.append(f"{title} / {p.get('title')}: every query is hidden")
                print(f"  UNCHECKED {p.get('title')}: every query is hidden")
            for t in visible:
                self.check_target(title, p, t, values)

    def check_target(self, dash, p, t, values):
        ds = (t.get("datasource") or p.get("datasource") or {}).get("uid")
        raw = t.get("expr", "")
        expr = self.substitute(raw, values)
        where = f"{dash} / {p.get('title')} [{t.get('refId')}]"
        if ds == "logpilot":
            n, problem = self.loki(expr)
        else:
            n, problem = self.prometheus(expr, bool(t.get("instant")))
        if problem:
            self.failures.append(f"{where}: {problem}\n      query: {expr}")
            print(f"  NO DATA   {p.get('title')} [{t.get('refId')}]: {problem}")
        else:
            self.passed += 1
            print(f"  ok        {p.get('title')} [{t.get('refId')}]: {n}")


def finite(value):
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def flatten(panels):
    for p in panels:
        yield p
        yield from flatten(p.get("panels", []))


def structure_problems(dash, panels):
    """What Grafana needs of a provisioned dashboard, and what these dashboards promise."""
    problems = []
    for key in ("uid", "title", "schemaVersion", "panels", "templating", "time"):
        if key not in dash:
            problems.append(f"no {key}")
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)):
        problems.append("panel ids are not unique")
    for p in panels:
        name = p.get("title", "?")
        grid = p.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in ("x", "y", "w", "h")):
            problems.append(f"panel {name!r} has no gridPos")
        elif grid["x"] + grid["w"] > 24:
            problems.append(f"panel {name!r} is wider than the dashboard")
        if p.get("type") in ("row", "text"):
            continue
        if not p.get("targets"):
            problems.append(f"panel {name!r} has no query")
        for t in p.get("targets", []):
            ds = t.get("datasource") or p.get("datasource") or {}
            if DATASOURCES.get(ds.get("uid")) != ds.get("type"):
                problems.append(f"panel {name!r} uses an unknown datasource {ds}")
            if not t.get("expr"):
                problems.append(f"panel {name!r} has an empty query")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--loki", required=True)
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--end", type=int, required=True)
    parser.add_argument("--scrape-interval", type=int, required=True)
    parser.add_argument("dashboards", nargs="+")
    args = parser.parse_args()
    if args.end <= args.start:
        parser.error("--end must be after --start")
    checker = Checker(args)
    print(f"window {args.end - args.start}s, step {checker.step}s, "
          f"$__rate_interval {checker.rate_interval}s")
    for path in args.dashboards:
        checker.check_dashboard(path)
    print()
    for item in checker.unchecked:
        print(f"UNCHECKED: {item}")
    for item in checker.failures:
        print(f"FAILED: {item}")
    print(f"\n{len(args.dashboards)} dashboards, {checker.panels} panels: {checker.passed} queries "
          f"returned data, {len(checker.failures)} failed, {len(checker.unchecked)} panels unchecked")
    return 1 if checker.failures or checker.unchecked else 0


if __name__ == "__main__":
    sys.exit(main())
