#!/usr/bin/python3
"""Keeps the Grafana dashboards honest (tests/e2e/dashboards.sh runs it against the dev stack).

    dashboards.py [--prometheus URL --dsn DSN] [--structure-only] [--absent PREFIX...]
                  DASHBOARD.json...

For every dashboard: the structure our conventions ask for (ops/grafana/README.md): uid = file
name, schemaVersion 39, unique panel ids, data sources only {"type": "prometheus", "uid":
"hs-prometheus"} and {"type": "grafana-postgresql-datasource", "uid": "hs-postgres"}, template
variables of type query/custom with includeAll, only the allowed macros, every variable a
query uses defined. Then every target of every panel runs like Grafana would run it: PromQL
through /api/v1/query with $__rate_interval/$__interval/$__range and variables (the all value
.*) substituted; SQL through psql with $__timeFilter, $__timeFrom, $__timeTo, $__timeGroupAlias
and variables (every value, quoted) substituted. A query that fails or returns no data fails
the check, naming dashboard, panel and query, unless the panel's description says why the test
traffic cannot produce it ("No data in the test: <reason>"), or every metric the query names
starts with an --absent prefix (a service this build does not have): then only an error fails it.
Exit status 0 when everything passed, 1 otherwise. Standard library and psql only.
"""
import argparse
import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request

PROM = {"type": "prometheus", "uid": "hs-prometheus"}
PG = {"type": "grafana-postgresql-datasource", "uid": "hs-postgres"}
PROM_MACROS = {"__rate_interval": "1m", "__interval": "30s", "__range": "5m"}
SQL_MACROS = {"__timeFilter", "__timeFrom", "__timeTo", "__timeGroupAlias", "__interval"}
SQL_WINDOW = "interval '1 hour'"
EXEMPT = "No data in the test:"
VAR_RE = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\[\[(\w+)\]\]|\$(\w+)")

failures = []


def fail(where, msg):
    msg = " ".join(msg.split())
    failures.append("%s: %s" % (where, msg))
    print("FAIL: %s: %s" % (where, msg))


def same_ds(ds, want):
    return isinstance(ds, dict) and ds.get("type") == want["type"] and ds.get("uid") == want["uid"]


def ds_kind(ds):
    if same_ds(ds, PROM):
        return "prometheus"
    if same_ds(ds, PG):
        return "postgres"
    return None


def all_panels(panels):
    for p in panels or []:
        yield p
        yield from all_panels(p.get("panels"))


def referenced_vars(text):
    names = set()
    for m in VAR_RE.finditer(text):
        name = m.group(1) or m.group(2) or m.group(3)
        if not name.startswith("__") and not name.isdigit():
            names.add(name)
    return names


def check_macros(where, text, kind):
    for m in re.finditer(r"\$__(\w+)", text):
        name = "__" + m.group(1)
        allowed = PROM_MACROS if kind == "prometheus" else SQL_MACROS
        if name not in allowed:
            fail(where, "macro $%s is not allowed in a %s query" % (name, kind))


def check_structure(path, dash):
    stem = os.path.basename(path)[: -len(".json")]
    where = os.path.basename(path)
    if dash.get("uid") != stem:
        fail(where, "uid %r is not the file name %r" % (dash.get("uid"), stem))
    if dash.get("schemaVersion") != 39:
        fail(where, "schemaVersion %r, want 39" % dash.get("schemaVersion"))
    if not dash.get("title"):
        fail(where, "no title")
    variables = {}
    for v in dash.get("templating", {}).get("list", []):
        vw = "%s variable %s" % (where, v.get("name"))
        if v.get("type") not in ("query", "custom"):
            fail(vw, "type %r (only query and custom)" % v.get("type"))
        if not v.get("includeAll"):
            fail(vw, "includeAll is not true")
        if v.get("type") == "query" and not ds_kind(v.get("datasource")):
            fail(vw, "unknown data source %r" % v.get("datasource"))
        variables[v.get("name")] = v
    ids = set()
    panels = list(all_panels(dash.get("panels")))
    if not panels:
        fail(where, "no panels")
    for p in panels:
        pw = "%s panel %r" % (where, p.get("title"))
        if p.get("id") in ids:
            fail(pw, "duplicate panel id %r" % p.get("id"))
        ids.add(p.get("id"))
        if "gridPos" not in p:
            fail(pw, "no gridPos")
        if p.get("type") in ("row", "text"):
            continue
        if not p.get("targets"):
            fail(pw, "a %s panel without targets" % p.get("type"))
        for t in p.get("targets", []):
            ds = t.get("datasource") or p.get("datasource")
            kind = ds_kind(ds)
            tw = "%s target %s" % (pw, t.get("refId"))
            if not kind:
                fail(tw, "unknown data source %r" % ds)
                continue
            text = t.get("expr") if kind == "prometheus" else t.get("rawSql")
            if not text:
                fail(tw, "no %s" % ("expr" if kind == "prometheus" else "rawSql"))
                continue
            if kind == "postgres" and t.get("format") not in ("time_series", "table"):
                fail(tw, "format %r (time_series or table)" % t.get("format"))
            check_macros(tw, text, kind)
            for name in referenced_vars(text):
                if name not in variables:
                    fail(tw, "variable $%s is not defined" % name)
    return variables


# ---- running queries --------------------------------------------------------------------------


def prom_get(base, path, params):
    url = base.rstrip("/") + path + "?" + urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        try:
            return json.load(e)
        except ValueError:
            return {"status": "error", "error": "HTTP %d" % e.code}
    except OSError as e:
        return {"status": "error", "error": str(e)}


def psql(dsn, sql):
    r = subprocess.run(["psql", "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return None, r.stderr.strip()
    rows = list(csv.reader(io.StringIO(r.stdout)))
    return rows, None


def var_query(v):
    q = v.get("query")
    return q.get("query", "") if isinstance(q, dict) else (q or "")


def var_values(args, v):
    """Every value of variable v (what "All" stands for in SQL), or None with an error."""
    if v.get("type") == "custom":
        return [s.strip() for s in var_query(v).split(",") if s.strip()], None
    q = var_query(v)
    if ds_kind(v.get("datasource")) == "postgres":
        rows, err = psql(args.dsn, q)
        return (None, err) if err else ([r[0] for r in rows[1:]], None)
    m = re.fullmatch(r"\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*", q)
    if not m:
        return None, "only label_values(...) queries are supported, got %r" % q
    params = {"match[]": [m.group(1)]} if m.group(1) else {}
    res = prom_get(args.prometheus, "/api/v1/label/%s/values" % m.group(2), params)
    if res.get("status") != "success":
        return None, res.get("error")
    return res.get("data", []), None


def substitute_vars(text, values):
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return values.get(name, m.group(0))

    return VAR_RE.sub(repl, text)


def prom_text(expr, variables):
    for name, val in PROM_MACROS.items():
        expr = expr.replace("$" + name, val)
    allv = {n: v.get("allValue") or ".*" for n, v in variables.items()}
    return substitute_vars(expr, allv)


def seconds(interval):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", interval.strip())
    mult = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return max(1, int(int(m.group(1)) * mult[m.group(2)])) if m else None


def sql_text(sql, all_values):
    sql = substitute_vars(sql, all_values)

    def group(m):
        col, iv = m.group(1).strip(), m.group(2).strip()
        iv = PROM_MACROS["__interval"] if iv == "$__interval" else iv.strip("'")
        return 'floor(extract(epoch from %s)/%d)*%d AS "time"' % (col, seconds(iv) or 60,
                                                                 seconds(iv) or 60)

    sql = re.sub(r"\$__timeGroupAlias\(([^,()]+),([^()]+)\)", group, sql)
    sql = re.sub(r"\$__timeFilter\(([^()]+)\)",
                 lambda m: "(%s BETWEEN now() - %s AND now())" % (m.group(1).strip(), SQL_WINDOW),
                 sql)
    sql = sql.replace("$__timeFrom()", "(now() - %s)" % SQL_WINDOW)
    return sql.replace("$__timeTo()", "now()")


def has_value(sample):
    try:
        return not math.isnan(float(sample[1]))
    except (TypeError, ValueError, IndexError):
        return False


def absent(args, expr):
    """1 when every metric expr names starts with one of the --absent prefixes."""
    names = set(re.findall(r"\b(hs_[a-z0-9_]+)", expr))
    return bool(names) and all(any(n.startswith(p) for p in args.absent) for n in names)


def run_prom(args, tw, expr, exempt):
    exempt = exempt or absent(args, expr)
    res = prom_get(args.prometheus, "/api/v1/query", {"query": expr})
    if res.get("status") != "success":
        return fail(tw, "query failed (%s): %s" % (res.get("error"), expr))
    data = res["data"]
    if data["resultType"] == "scalar":
        ok = has_value(data["result"])
    else:
        ok = any(has_value(s.get("value")) for s in data["result"])
    if not ok and not exempt:
        return fail(tw, "no data: %s" % expr)
    print("ok: %s%s" % (tw, "" if ok else " (empty, exempt)"))


def run_sql(args, tw, sql, fmt, exempt):
    rows, err = psql(args.dsn, sql)
    if err:
        return fail(tw, "query failed (%s): %s" % (err, sql))
    if fmt == "time_series" and rows and "time" not in rows[0]:
        return fail(tw, "a time_series query without a \"time\" column: %s" % sql)
    if len(rows) < 2 and not exempt:
        return fail(tw, "no rows: %s" % sql)
    print("ok: %s (%d rows)" % (tw, len(rows) - 1))


def run_dashboard(args, path, dash, variables):
    where = os.path.basename(path)
    all_values = {}
    for name, v in variables.items():
        vals, err = var_values(args, v)
        if not err and not vals and absent(args, var_query(v)):
            vals = [".*"]
        elif err or not vals:
            fail("%s variable %s" % (where, name), err or "no values: %s" % var_query(v))
            vals = []
        all_values[name] = ",".join("'%s'" % s.replace("'", "''") for s in vals) or "''"
    for p in all_panels(dash.get("panels")):
        exempt = EXEMPT in (p.get("description") or "")
        for t in p.get("targets", []) if p.get("type") not in ("row", "text") else []:
            kind = ds_kind(t.get("datasource") or p.get("datasource"))
            tw = "%s panel %r target %s" % (where, p.get("title"), t.get("refId"))
            if kind == "prometheus" and t.get("expr"):
                run_prom(args, tw, prom_text(t["expr"], variables), exempt)
            elif kind == "postgres" and t.get("rawSql"):
                run_sql(args, tw, sql_text(t["rawSql"], all_values), t.get("format"), exempt)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prometheus", help="Prometheus base URL")
    ap.add_argument("--dsn", help="Postgres DSN for the SQL panels")
    ap.add_argument("--structure-only", action="store_true", help="do not run the queries")
    ap.add_argument("--absent", action="append", default=[], metavar="PREFIX",
                    help="metrics of a service this build lacks (hs_cache_): may be empty")
    ap.add_argument("dashboards", nargs="+")
    args = ap.parse_args()
    if not args.structure_only and not (args.prometheus and args.dsn):
        ap.error("--prometheus and --dsn are needed unless --structure-only")
    for path in args.dashboards:
        try:
            with open(path) as f:
                dash = json.load(f)
        except (OSError, ValueError) as e:
            fail(os.path.basename(path), "not readable JSON: %s" % e)
            continue
        variables = check_structure(path, dash)
        if not args.structure_only:
            run_dashboard(args, path, dash, variables)
    print("%d dashboard(s), %d failure(s)" % (len(args.dashboards), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
