#!/usr/bin/env python3
"""Checks of infra/ that need more than a tool's own validator; run by infra/validate.sh
(inside target/infra-venv, which has the pinned packages of infra/requirements.txt).

    python infra/validate.py --promtool PATH [--kubectl PATH] [--nats-server PATH]

Sections (each prints what it checked; any error makes the exit code 1):
  compose     docker-compose.yml and infra/nats/cluster/compose.yaml beyond the schema:
              bind-mount sources exist, named volumes and depends_on targets are declared,
              variable interpolation is well formed, the six cspr services are consistent
              (command, port, *_ADDR, OTEL_SERVICE_NAME, healthcheck, a stop grace
              period longer than CSPR_SHUTDOWN_GRACE), mounts of
              the Prometheus, Grafana and collector files
  otel        the collector config: every pipeline's receivers, processors and exporters
              are defined; the Prometheus scrape target is the exporter's port
  metrics     infra/metrics.txt parses; every metric name in the alert rules and the
              dashboards is in it
  alerts      every rule has severity, category, summary, description and a runbook that
              is a heading of docs/operations.md; every alert has a firing unit test
  dashboards  JSON, schemaVersion 39, unique uids and panel ids, gridPos inside 24
              columns without overlaps, panel types, datasource uid provisioned, template
              variables defined; every PromQL expression parses (promtool check rules)
  k8s         kustomize renders base and overlays/production (kubectl kustomize, or the
              small renderer below when kubectl is missing; both are compared when both
              run); standard resources validate against the Kubernetes JSON schemas
              (kubernetes-validate, strict) for each version in K8S_VERSIONS; cspr-specific
              checks, among them that the probes, preStop and terminationGracePeriodSeconds
              agree with CSPR_SHUTDOWN_DRAIN and CSPR_SHUTDOWN_GRACE; CloudNativePG
              resources by shape only (no schema offline)
  nats        every NATS config parses (nats-server -t), when nats-server is installed
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
OPERATIONS = ROOT / "docs" / "operations.md"
K8S_VERSIONS = ["1.29.0", "1.35.0"]

SERVICES = {
    "registry": 50051,
    "submissions": 50052,
    "practitioners": 50053,
    "family": 50054,
    "actions": 50055,
    "notifications": 50056,
}
# The defaults of CSPR_SHUTDOWN_DRAIN and CSPR_SHUTDOWN_GRACE (services/platform/src/config.rs).
SHUTDOWN_DEFAULTS = {"CSPR_SHUTDOWN_DRAIN": "5s", "CSPR_SHUTDOWN_GRACE": "20s"}
# What an orchestrator's kill deadline must leave beyond the grace period (exit, flush).
SHUTDOWN_MARGIN = 5
# Metrics Prometheus makes itself, which the rules may use besides infra/metrics.txt.
PROMETHEUS_OWN_METRICS = {"up"}

errors: list[str] = []


def error(section: str, message: str) -> None:
    errors.append(f"{section}: {message}")
    print(f"  ERROR {message}")


def ok(message: str, since: int | None = None) -> None:
    """Prints an ok line, unless errors were recorded since `since` (a len(errors))."""
    if since is None or len(errors) == since:
        print(f"  ok    {message}")


def section(title: str) -> None:
    print(f"\n-- {title}")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def seconds(duration: str) -> float:
    """A duration as cspr (humantime) and Compose write them: `5s`, `1m30s`, `500ms`, `20`."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)?", str(duration).strip())
    if not parts or re.sub(r"[\d.\s]|ms|s|m|h", "", str(duration)):
        raise ValueError(f"not a duration: {duration!r}")
    return sum(float(number) * units[unit or "s"] for number, unit in parts)


def shutdown_timing(environment: dict[str, str]) -> tuple[float, float]:
    """(drain, grace) in seconds, from the variables set or their defaults."""
    drain, grace = (seconds(environment.get(name) or default) for name, default in SHUTDOWN_DEFAULTS.items())
    return drain, grace


def load_yaml(path: Path):
    with open(path, encoding="utf-8") as file:
        return yaml.safe_load(file)


# --------------------------------------------------------------------------- compose

INTERPOLATION = re.compile(r"\$(\$|\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?[-?+])[^}]*)?\}|[A-Za-z_][A-Za-z0-9_]*)")


def walk_strings(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def check_compose_file(path: Path) -> dict:
    name = rel(path)
    start = len(errors)
    spec = load_yaml(path)
    base = path.parent
    for where, text in walk_strings(spec):
        stripped = INTERPOLATION.sub("", text)
        if "$" in stripped:
            error("compose", f"{name}{where}: malformed variable interpolation in {text!r}")
    services = spec.get("services", {})
    volumes = set((spec.get("volumes") or {}).keys())
    mounts = 0
    for service, config in services.items():
        for dependency in config.get("depends_on", {}) or {}:
            if dependency not in services:
                error("compose", f"{name}: {service} depends on unknown service {dependency}")
        for volume in config.get("volumes", []) or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source")
            if source.startswith((".", "/")):
                mounts += 1
                if not (base / source).resolve().exists():
                    error("compose", f"{name}: {service} mounts {source}, which does not exist")
            elif source not in volumes:
                error("compose", f"{name}: {service} uses volume {source}, not declared under volumes:")
        build = config.get("build")
        if isinstance(build, dict):
            context = (base / build.get("context", ".")).resolve()
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                error("compose", f"{name}: {service} builds from {dockerfile}, which does not exist")
        if "healthcheck" in config and not config["healthcheck"].get("test"):
            error("compose", f"{name}: {service} has a healthcheck without test")
    ok(f"{name}: {len(services)} services; depends_on, named volumes, {mounts} bind mounts and "
       "${...} interpolation checked", start)
    return spec


def check_compose() -> None:
    section("compose (semantics; the schema is checked by check-jsonschema in validate.sh)")
    spec = check_compose_file(ROOT / "docker-compose.yml")
    check_compose_file(INFRA / "nats" / "cluster" / "compose.yaml")
    services = spec["services"]
    start = len(errors)
    for service, port in SERVICES.items():
        config = services.get(service)
        if config is None:
            error("compose", f"docker-compose.yml: service {service} is missing")
            continue
        environment = config.get("environment", {})
        expectations = {
            "command": (config.get("command"), ["serve", service]),
            f"CSPR_{service.upper()}_ADDR": (environment.get(f"CSPR_{service.upper()}_ADDR"), f"0.0.0.0:{port}"),
            "OTEL_SERVICE_NAME": (environment.get("OTEL_SERVICE_NAME"), f"cspr-{service}"),
            "healthcheck": (config.get("healthcheck", {}).get("test"), ["CMD", "cspr", "health", "check", f"127.0.0.1:{port}"]),
            "ports": (config.get("ports"), [f"{port}:{port}"]),
        }
        for what, (actual, expected) in expectations.items():
            if actual != expected:
                error("compose", f"docker-compose.yml: {service} {what} is {actual!r}, expected {expected!r}")
        drain, grace = shutdown_timing(environment)
        stop_grace = seconds(config.get("stop_grace_period", "10s"))  # Docker's default
        if drain >= grace:
            error("compose", f"docker-compose.yml: {service}: CSPR_SHUTDOWN_DRAIN {drain:g}s must be shorter than CSPR_SHUTDOWN_GRACE {grace:g}s")
        if stop_grace < grace + SHUTDOWN_MARGIN:
            error("compose", f"docker-compose.yml: {service}: stop_grace_period {stop_grace:g}s kills it before "
                             f"CSPR_SHUTDOWN_GRACE {grace:g}s + {SHUTDOWN_MARGIN}s are over")
    ok("docker-compose.yml: the six cspr services: command, *_ADDR, OTEL_SERVICE_NAME (= the alerts' job), port, healthcheck, "
       "stop_grace_period beyond CSPR_SHUTDOWN_GRACE", start)
    start = len(errors)
    wanted_mounts = {
        "prometheus": ["./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                       "./infra/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro"],
        "grafana": ["./infra/grafana/provisioning:/etc/grafana/provisioning:ro",
                    "./infra/grafana/dashboards:/var/lib/grafana/dashboards:ro"],
        "otel-collector": ["./infra/otel-collector/config.yaml:/etc/otelcol-contrib/config.yaml:ro"],
    }
    for service, mounts in wanted_mounts.items():
        for mount in mounts:
            if mount not in services.get(service, {}).get("volumes", []):
                error("compose", f"docker-compose.yml: {service} does not mount {mount}")
    provisioning = load_yaml(INFRA / "grafana" / "provisioning" / "dashboards" / "dashboards.yaml")
    paths = [provider["options"]["path"] for provider in provisioning["providers"]]
    if paths != ["/var/lib/grafana/dashboards"]:
        error("compose", f"Grafana dashboard provider paths {paths} do not match the compose mount")
    ok("docker-compose.yml: prometheus.yml + alerts.yml, Grafana provisioning + dashboards, collector config mounted where they are read", start)


# ------------------------------------------------------------------------------ otel

def check_otel() -> None:
    section("OpenTelemetry Collector config")
    path = INFRA / "otel-collector" / "config.yaml"
    start = len(errors)
    config = load_yaml(path)
    service = config.get("service", {})
    for extension in service.get("extensions", []):
        if extension not in (config.get("extensions") or {}):
            error("otel", f"service.extensions names {extension}, not defined under extensions:")
    pipelines = service.get("pipelines", {})
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                if component not in (config.get(kind) or {}):
                    error("otel", f"pipeline {name} uses {kind[:-1]} {component}, not defined under {kind}:")
        if not pipeline.get("receivers") or not pipeline.get("exporters"):
            error("otel", f"pipeline {name} needs at least one receiver and one exporter")
    for kind in ("receivers", "processors", "exporters"):
        used = {component for pipeline in pipelines.values() for component in pipeline.get(kind, [])}
        for component in config.get(kind) or {}:
            if component not in used:
                error("otel", f"{kind[:-1]} {component} is defined but in no pipeline")
    ok(f"{rel(path)}: pipelines {', '.join(pipelines)}: every receiver, processor, exporter and extension defined and used", start)
    metrics_exporters = pipelines.get("metrics", {}).get("exporters", [])
    prometheus = [e for e in metrics_exporters if e.split("/")[0] == "prometheus"]
    if not prometheus:
        error("otel", "the metrics pipeline has no prometheus exporter (Prometheus scrapes it)")
        return
    port = config["exporters"][prometheus[0]]["endpoint"].rsplit(":", 1)[1]
    scrape = load_yaml(INFRA / "prometheus" / "prometheus.yml")
    targets = [target for job in scrape["scrape_configs"] if job["job_name"] == "otel-collector"
               for static in job.get("static_configs", []) for target in static["targets"]]
    start = len(errors)
    if targets != [f"otel-collector:{port}"]:
        error("otel", f"prometheus.yml scrapes {targets}, the collector exports on :{port}")
    ok(f"prometheus.yml scrapes the collector's Prometheus exporter (otel-collector:{port}, honor_labels keeps job)", start)


# --------------------------------------------------------------------------- metrics

def load_metrics() -> dict[str, str]:
    metrics: dict[str, str] = {}
    path = INFRA / "metrics.txt"
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, comment = line.partition("#")
        name = name.strip()
        kind = comment.strip() or "untyped"
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name):
            error("metrics", f"metrics.txt:{number}: {name!r} is not a Prometheus metric name")
        if kind not in ("counter", "gauge", "histogram", "untyped"):
            error("metrics", f"metrics.txt:{number}: unknown type {kind!r}")
        if kind == "counter" and not name.endswith("_total"):
            error("metrics", f"metrics.txt:{number}: counter {name} should end in _total")
        if name in metrics:
            error("metrics", f"metrics.txt:{number}: {name} listed twice")
        metrics[name] = kind
    return metrics


def series_names(metrics: dict[str, str]) -> set[str]:
    names = set(metrics)
    for name, kind in metrics.items():
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                   "group_right", "offset", "bool", "inf", "nan", "atan2"}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (good enough for the PromQL written here)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        token = match.group(0)
        if text[match.end():].lstrip().startswith("("):
            continue  # a function or aggregation
        if token.lower() in PROMQL_KEYWORDS:
            continue
        if match.start() > 0 and (text[match.start() - 1].isdigit() or text[match.start() - 1] in "$."):
            continue  # a duration unit (15m), an exponent (1e3), a variable
        names.add(token)
    return names


# ---------------------------------------------------------------------------- alerts

def github_anchor(heading: str) -> str:
    anchor = heading.strip().lower()
    anchor = re.sub(r"[^\w\- ]", "", anchor)
    return anchor.replace(" ", "-")


def operations_anchors() -> set[str]:
    if not OPERATIONS.is_file():
        error("alerts", f"{rel(OPERATIONS)} is missing (the runbooks)")
        return set()
    anchors = set()
    for line in OPERATIONS.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            anchors.add(github_anchor(match.group(1)))
    return anchors


def check_operations_links() -> None:
    if not OPERATIONS.is_file():
        return
    start = len(errors)
    anchors = operations_anchors()
    links = re.findall(r"\]\(#([\w-]+)\)", OPERATIONS.read_text(encoding="utf-8"))
    for anchor in links:
        if anchor not in anchors:
            error("alerts", f"{rel(OPERATIONS)}: link to #{anchor}, which is no heading")
    ok(f"{rel(OPERATIONS)}: {len(links)} links inside the page lead to headings", start)


def check_alerts(metrics: dict[str, str]) -> None:
    section("alert rules (beyond promtool)")
    start = len(errors)
    known = series_names(metrics) | PROMETHEUS_OWN_METRICS
    anchors = operations_anchors()
    rules = load_yaml(INFRA / "prometheus" / "alerts.yml")
    tests = load_yaml(INFRA / "prometheus" / "alerts_test.yml")
    tested = {case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", [])
              if case.get("exp_alerts")}
    quiet = {case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", [])
             if not case.get("exp_alerts")}
    alerts = []
    used = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            names = promql_metric_names(rule["expr"])
            used |= names
            for metric in sorted(names - known):
                error("alerts", f"{name}: metric {metric} is not in infra/metrics.txt")
            if "alert" not in rule:
                continue
            alerts.append(name)
            labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
            if labels.get("severity") not in ("critical", "warning", "info"):
                error("alerts", f"{name}: severity label must be critical, warning or info")
            if labels.get("category") not in ("platform", "business"):
                error("alerts", f"{name}: category label must be platform or business")
            for key in ("summary", "description", "runbook"):
                if not annotations.get(key):
                    error("alerts", f"{name}: no {key} annotation")
            runbook = annotations.get("runbook", "")
            match = re.fullmatch(r"docs/operations\.md#([\w-]+)", runbook)
            if not match:
                error("alerts", f"{name}: runbook {runbook!r} is not docs/operations.md#<section>")
            elif match.group(1) != name.lower():
                error("alerts", f"{name}: runbook anchor should be #{name.lower()}")
            elif match.group(1) not in anchors:
                error("alerts", f"{name}: docs/operations.md has no heading for #{match.group(1)}")
            if name not in tested:
                error("alerts", f"{name}: no test in alerts_test.yml expects it to fire")
    ok(f"{len(alerts)} alerts: severity, category, summary, description, runbook -> a heading of docs/operations.md", start)
    ok(f"every alert has a firing test; {len(quiet)} alerts also have a not-firing case", start)
    ok(f"metric names in the rules ({len(used)}) are all in infra/metrics.txt (or Prometheus' own: up)", start)
    check_operations_links()


# ------------------------------------------------------------------------ dashboards

GRAFANA_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h",
                     "__range_s": "3600", "__interval_ms": "60000", "__range_ms": "3600000"}
PANEL_TYPES = {"row", "timeseries", "stat", "bargauge", "table"}


def grafana_to_promql(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(f"${{{name}}}", value)
        expr = re.sub(rf"\${name}\b", value, expr)
    return re.sub(r"\$\{?\w+(?::\w+)?\}?", "x", expr)


def check_dashboards(metrics: dict[str, str], promtool: str) -> None:
    section("Grafana dashboards")
    known = series_names(metrics)
    provisioned = {source["uid"] for source in
                   load_yaml(INFRA / "grafana" / "provisioning" / "datasources" / "datasources.yaml")["datasources"]}
    files = sorted((INFRA / "grafana" / "dashboards").glob("*.json"))
    if not files:
        error("dashboards", "no dashboard in infra/grafana/dashboards")
    uids, titles = {}, {}
    expressions = []
    used = set()
    start = len(errors)
    for path in files:
        name = rel(path)
        file_start = len(errors)
        try:
            dashboard = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as problem:
            error("dashboards", f"{name}: not JSON: {problem}")
            continue
        for key in ("title", "uid", "panels", "schemaVersion", "templating", "time"):
            if key not in dashboard:
                error("dashboards", f"{name}: no {key}")
        if dashboard.get("schemaVersion") != 39:
            error("dashboards", f"{name}: schemaVersion {dashboard.get('schemaVersion')}, expected 39")
        if dashboard.get("id") is not None:
            error("dashboards", f"{name}: id must be null in a provisioned dashboard")
        for seen, key in ((uids, "uid"), (titles, "title")):
            if dashboard.get(key) in seen:
                error("dashboards", f"{name}: {key} {dashboard.get(key)!r} also in {seen[dashboard.get(key)]}")
            seen[dashboard.get(key)] = name
        variables = set(GRAFANA_VARIABLES)
        for variable in dashboard.get("templating", {}).get("list", []):
            variables.add(variable["name"])
            if variable.get("type") == "query":
                query = variable.get("query")
                query = query.get("query") if isinstance(query, dict) else query
                match = re.fullmatch(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s*,\s*(\w+)\s*\)", query or "")
                if not match:
                    error("dashboards", f"{name}: variable {variable['name']}: query {query!r} is not label_values(metric, label)")
                elif match.group(1) not in known:
                    error("dashboards", f"{name}: variable {variable['name']}: metric {match.group(1)} is not in infra/metrics.txt")
                else:
                    used.add(match.group(1))
                if (variable.get("datasource") or {}).get("uid") not in provisioned:
                    error("dashboards", f"{name}: variable {variable['name']}: datasource uid not provisioned")
        ids = set()
        boxes = []
        panels = dashboard.get("panels", [])
        for panel in panels:
            title = f"{name}: panel {panel.get('title')!r}"
            if panel.get("id") in ids or not isinstance(panel.get("id"), int):
                error("dashboards", f"{title}: id {panel.get('id')!r} missing or not unique")
            ids.add(panel.get("id"))
            if panel.get("type") not in PANEL_TYPES:
                error("dashboards", f"{title}: type {panel.get('type')!r} not one of {sorted(PANEL_TYPES)}")
            grid = panel.get("gridPos", {})
            if not all(isinstance(grid.get(key), int) for key in "hwxy"):
                error("dashboards", f"{title}: gridPos needs integer h, w, x, y")
                continue
            if grid["x"] < 0 or grid["w"] < 1 or grid["x"] + grid["w"] > 24 or grid["h"] < 1:
                error("dashboards", f"{title}: gridPos {grid} outside the 24 columns")
            for other_title, other in boxes:
                if (grid["x"] < other["x"] + other["w"] and other["x"] < grid["x"] + grid["w"]
                        and grid["y"] < other["y"] + other["h"] and other["y"] < grid["y"] + grid["h"]):
                    error("dashboards", f"{title}: overlaps {other_title!r}")
            boxes.append((panel.get("title"), grid))
            if panel.get("type") == "row":
                continue
            if (panel.get("datasource") or {}).get("uid") not in provisioned:
                error("dashboards", f"{title}: datasource uid {(panel.get('datasource') or {}).get('uid')!r} is not provisioned")
            if "fieldConfig" not in panel or "options" not in panel:
                error("dashboards", f"{title}: needs fieldConfig and options")
            targets = panel.get("targets", [])
            if not targets:
                error("dashboards", f"{title}: no query")
            refs = [target.get("refId") for target in targets]
            if len(set(refs)) != len(refs) or None in refs:
                error("dashboards", f"{title}: refIds missing or repeated")
            for target in targets:
                expr = target.get("expr", "")
                if not expr.strip():
                    error("dashboards", f"{title}: empty expr")
                    continue
                if (target.get("datasource") or {}).get("uid") not in provisioned:
                    error("dashboards", f"{title}: query {target.get('refId')} datasource uid not provisioned")
                for variable in re.findall(r"\$\{?(\w+)", expr):
                    if variable not in variables:
                        error("dashboards", f"{title}: ${variable} is not a template variable")
                names = promql_metric_names(grafana_to_promql(expr))
                used |= names
                for metric in sorted(names - known):
                    error("dashboards", f"{title}: metric {metric} is not in infra/metrics.txt")
                expressions.append((title, grafana_to_promql(expr)))
        ok(f"{name} ({dashboard.get('title')!r}): {len(panels)} panels, layout, types, datasources, variables", file_start)
    # PromQL syntax: each expression as a recording rule, checked by promtool.
    with tempfile.TemporaryDirectory() as directory:
        rules = {"groups": [{"name": "dashboards", "rules": [
            {"record": f"dashboard:expression_{index}", "expr": expr}
            for index, (_, expr) in enumerate(expressions)]}]}
        path = Path(directory) / "dashboard-queries.yml"
        path.write_text(yaml.safe_dump(rules), encoding="utf-8")
        result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
        if result.returncode != 0:
            error("dashboards", "a PromQL expression does not parse:\n" + result.stdout + result.stderr)
            for index, (title, expr) in enumerate(expressions):
                if f"expression_{index}" in result.stdout + result.stderr:
                    print(f"    expression_{index} is {title}: {expr}")
        else:
            ok(f"{len(expressions)} PromQL expressions parse (promtool check rules, Grafana variables substituted)")
    ok(f"metric names in the dashboards ({len(used)}) are all in infra/metrics.txt", start)
    alerts_used = set()
    for group in load_yaml(INFRA / "prometheus" / "alerts.yml")["groups"]:
        for rule in group["rules"]:
            alerts_used |= promql_metric_names(rule["expr"])
    everything = used | alerts_used
    unused = [name for name, kind in metrics.items()
              if not ({name} | ({f"{name}_bucket", f"{name}_count", f"{name}_sum"} if kind == "histogram" else set())) & everything]
    if unused:
        print(f"  note  metrics in infra/metrics.txt on no dashboard and in no alert: {', '.join(unused)}")
    else:
        ok("every metric of infra/metrics.txt is on a dashboard or in an alert")


# ------------------------------------------------------------------ k8s: rendering

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                  "CustomResourceDefinition", "PriorityClass", "IngressClass"}
SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "replicas",
             "configMapGenerator", "patches"}


def pod_specs(doc):
    spec = doc.get("spec", {})
    template = spec.get("template", {}).get("spec")
    if template is not None:
        yield template
    job = spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
    if job is not None:
        yield job


def json_pointer_apply(doc, operation):
    parts = [part.replace("~1", "/").replace("~0", "~") for part in operation["path"].split("/")[1:]]
    parent = doc
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    op = operation["op"]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op == "add":
            parent.insert(index, operation["value"])
        elif op == "replace":
            parent[index] = operation["value"]
        elif op == "remove":
            del parent[index]
        else:
            raise ValueError(f"patch op {op} not supported by the fallback renderer")
    else:
        if op in ("add", "replace"):
            if op == "replace" and last not in parent:
                raise KeyError(f"replace: {operation['path']} does not exist")
            parent[last] = operation["value"]
        elif op == "remove":
            del parent[last]
        else:
            raise ValueError(f"patch op {op} not supported by the fallback renderer")


def render(directory: Path, top: bool = True) -> list[dict]:
    """A small kustomize for the features infra/k8s uses (validation only: hashes differ)."""
    kustomization = load_yaml(directory / "kustomization.yaml")
    unsupported = set(kustomization) - SUPPORTED
    if unsupported:
        raise ValueError(f"{directory}: the fallback renderer does not support {sorted(unsupported)}")
    docs: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if path.is_dir():
            docs += render(path, top=False)
        else:
            with open(path, encoding="utf-8") as file:
                docs += [doc for doc in yaml.safe_load_all(file) if doc]
    for generator in kustomization.get("configMapGenerator", []):
        data = {}
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        for file in generator.get("files", []):
            key, _, source = file.partition("=") if "=" in file else (Path(file).name, "", file)
            data[key] = (directory / source).read_text(encoding="utf-8")
        name = generator["name"]
        if generator.get("behavior") in ("merge", "replace"):
            matches = [doc for doc in docs if doc["kind"] == "ConfigMap" and doc.get("__generated__") == name]
            if len(matches) != 1:
                raise ValueError(f"{directory}: no generated ConfigMap {name} to {generator['behavior']}")
            if generator["behavior"] == "merge":
                matches[0]["data"].update(data)
            else:
                matches[0]["data"] = data
        else:
            docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                         "data": data, "__generated__": name})
    for patch in kustomization.get("patches", []):
        target = patch.get("target", {})
        if set(target) - {"kind", "name"} or "path" in patch:
            raise ValueError(f"{directory}: the fallback renderer supports inline JSON6902 patches with target kind/name only")
        operations = yaml.safe_load(patch["patch"])
        for doc in docs:
            if "kind" in target and doc["kind"] != target["kind"]:
                continue
            if "name" in target and not re.fullmatch(target["name"], doc["metadata"]["name"]):
                continue
            for operation in operations:
                json_pointer_apply(doc, operation)
    for image in kustomization.get("images", []):
        for doc in docs:
            for spec in pod_specs(doc):
                for container in spec.get("containers", []) + spec.get("initContainers", []):
                    reference = container["image"]
                    name, tag = (reference.rsplit(":", 1) if ":" in reference.split("/")[-1] else (reference, None))
                    if name == image["name"]:
                        container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    for replica in kustomization.get("replicas", []):
        for doc in docs:
            if doc["kind"] in ("Deployment", "StatefulSet", "ReplicaSet") and doc["metadata"]["name"] == replica["name"]:
                doc["spec"]["replicas"] = replica["count"]
    for labels in kustomization.get("labels", []):
        if labels.get("includeSelectors") or labels.get("includeTemplates"):
            raise ValueError(f"{directory}: the fallback renderer supports labels without selectors/templates only")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(labels["pairs"])
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kustomization["namespace"]
    if top:
        renamed = {}
        for doc in docs:
            if "__generated__" in doc:
                digest = hashlib.sha256(json.dumps(doc["data"], sort_keys=True).encode()).hexdigest()[:10]
                renamed[doc["metadata"]["name"]] = f"{doc['metadata']['name']}-{digest}"
                doc["metadata"]["name"] = renamed[doc["metadata"]["name"]]
                del doc["__generated__"]
        for doc in docs:
            for spec in pod_specs(doc):
                for volume in spec.get("volumes", []):
                    if "configMap" in volume and volume["configMap"]["name"] in renamed:
                        volume["configMap"]["name"] = renamed[volume["configMap"]["name"]]
                for container in spec.get("containers", []) + spec.get("initContainers", []):
                    for source in container.get("envFrom", []):
                        if "configMapRef" in source and source["configMapRef"]["name"] in renamed:
                            source["configMapRef"]["name"] = renamed[source["configMapRef"]["name"]]
                    for variable in container.get("env", []):
                        reference = variable.get("valueFrom", {}).get("configMapKeyRef")
                        if reference and reference["name"] in renamed:
                            reference["name"] = renamed[reference["name"]]
    return docs


def generated_names(directory: Path) -> set[str]:
    names = set()
    kustomization = load_yaml(directory / "kustomization.yaml")
    for generator in kustomization.get("configMapGenerator", []):
        names.add(generator["name"])
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if path.is_dir():
            names |= generated_names(path)
    return names


def normalize(docs: list[dict], generated: set[str]) -> dict:
    """Keyed by (kind, namespace, name), generated ConfigMap hash suffixes removed."""
    full_to_base = {}
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            match = re.fullmatch(r"(.+)-[a-z0-9]{10}", doc["metadata"]["name"])
            if match and match.group(1) in generated:
                full_to_base[doc["metadata"]["name"]] = match.group(1)

    def strip(value):
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items()}
        if isinstance(value, list):
            return [strip(item) for item in value]
        if isinstance(value, str):
            return full_to_base.get(value, value)
        return value

    return {(doc["kind"], doc["metadata"].get("namespace", ""), strip(doc["metadata"]["name"])): strip(doc)
            for doc in docs}


def first_difference(left, right, path="$"):
    if type(left) is not type(right):
        return f"{path}: {left!r} != {right!r}"
    if isinstance(left, dict):
        for key in sorted(set(left) | set(right), key=str):
            if key not in left or key not in right:
                return f"{path}.{key}: only in {'kubectl' if key in left else 'the fallback'}"
            found = first_difference(left[key], right[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(left, list):
        if len(left) != len(right):
            return f"{path}: {len(left)} items != {len(right)}"
        for index, (a, b) in enumerate(zip(left, right)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if left == right else f"{path}: {left!r} != {right!r}"


# ------------------------------------------------------------------- k8s: checks

def check_web_deployment(name: str, by_kind: dict[str, dict[str, dict]], documented: set[str], readme: str) -> None:
    """The web front end: `serve web` on 8080 with HTTP probes, the six services' URLs at their
    Services, a Service keeping a browser on one pod (sessions are in memory)."""
    deployment = by_kind.get("Deployment", {}).get("cspr-web")
    if deployment is None:
        error("k8s", f"{name}: no Deployment cspr-web")
        return
    where = f"{name}: Deployment cspr-web"
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    if container.get("args") != ["serve", "web"]:
        error("k8s", f"{where}: args {container.get('args')} != ['serve', 'web']")
    if [p["containerPort"] for p in container.get("ports", [])] != [8080]:
        error("k8s", f"{where}: container port is not 8080")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        http = container.get(probe, {}).get("httpGet", {})
        if http.get("path") != "/healthz" or http.get("port") != 8080:
            error("k8s", f"{where}: {probe} is not GET /healthz on 8080")
    environment = {variable["name"]: variable.get("value") for variable in container.get("env", [])}
    if environment.get("CSPR_WEB_ADDR") != "0.0.0.0:8080":
        error("k8s", f"{where}: CSPR_WEB_ADDR must be 0.0.0.0:8080")
    for service, port in SERVICES.items():
        url = environment.get(f"CSPR_{service.upper()}_URL")
        target = by_kind.get("Service", {}).get(f"cspr-{service}", {})
        ports = [p["port"] for p in target.get("spec", {}).get("ports", [])]
        if url != f"http://cspr-{service}:{port}" or port not in ports:
            error("k8s", f"{where}: CSPR_{service.upper()}_URL is {url!r}, not the Service cspr-{service} on {port}")
    for variable in environment:
        generic = re.sub(r"^CSPR_(REGISTRY|SUBMISSIONS|PRACTITIONERS|FAMILY|ACTIONS|NOTIFICATIONS)_URL$",
                         r"CSPR_<SERVICE>_URL", variable)
        if variable.startswith("CSPR_") and generic not in documented and variable not in documented:
            error("k8s", f"{where}: {variable} is not a variable of README.md's Configuration table")
    security = container.get("securityContext", {})
    if not (pod.get("securityContext", {}).get("runAsNonRoot") and security.get("readOnlyRootFilesystem")
            and security.get("allowPrivilegeEscalation") is False):
        error("k8s", f"{where}: must run as non-root, read-only root filesystem, no privilege escalation")
    service_doc = by_kind.get("Service", {}).get("cspr-web", {})
    if service_doc.get("spec", {}).get("selector") != deployment["spec"]["selector"]["matchLabels"]:
        error("k8s", f"{name}: Service cspr-web does not select the web's pods")
    if service_doc.get("spec", {}).get("sessionAffinity") != "ClientIP":
        error("k8s", f"{name}: Service cspr-web must keep a browser on one pod (sessionAffinity: ClientIP)")
    if "cspr-web" in by_kind.get("HorizontalPodAutoscaler", {}):
        error("k8s", f"{name}: no autoscaler for cspr-web: a change of replicas moves browsers off their sessions")
    for ingress in by_kind.get("Ingress", {}).values():
        annotations = ingress["metadata"].get("annotations", {})
        if annotations.get("nginx.ingress.kubernetes.io/affinity") != "cookie":
            error("k8s", f"{name}: Ingress {ingress['metadata']['name']} without cookie affinity")


def check_service_deployments(name: str, docs: list[dict], readme: str) -> None:
    start = len(errors)
    by_kind: dict[str, dict[str, dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    deployments = by_kind.get("Deployment", {})
    config = next((doc["data"] for doc in docs if doc["kind"] == "ConfigMap"
                   and doc["metadata"]["name"].startswith("cspr-config")), {})
    if config.get("CSPR_NATS_STREAM_REPLICAS") != "3":
        error("k8s", f"{name}: cspr-config must set CSPR_NATS_STREAM_REPLICAS=3 (streams on the 3 NATS nodes)")
    documented = set(re.findall(r"`((?:CSPR|OTEL)_[A-Z0-9_<>]+)`", readme))
    for service, port in SERVICES.items():
        deployment = deployments.get(f"cspr-{service}")
        if deployment is None:
            error("k8s", f"{name}: no Deployment cspr-{service}")
            continue
        where = f"{name}: Deployment cspr-{service}"
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        if container.get("args") != ["serve", service]:
            error("k8s", f"{where}: args {container.get('args')} != ['serve', '{service}']")
        if [p["containerPort"] for p in container.get("ports", [])] != [port]:
            error("k8s", f"{where}: container port is not {port}")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if container.get(probe, {}).get("grpc", {}).get("port") != port:
                error("k8s", f"{where}: {probe} is not a gRPC probe on {port}")
        check_shutdown_timing(where, pod, container, config)
        security = container.get("securityContext", {})
        if not (pod.get("securityContext", {}).get("runAsNonRoot") and security.get("readOnlyRootFilesystem")
                and security.get("allowPrivilegeEscalation") is False
                and security.get("capabilities", {}).get("drop") == ["ALL"]):
            error("k8s", f"{where}: must run as non-root, read-only root filesystem, no privilege escalation, no capabilities")
        resources = container.get("resources", {})
        if not all(resources.get(kind, {}).get(resource) for kind in ("requests", "limits") for resource in ("cpu", "memory")):
            error("k8s", f"{where}: needs cpu and memory requests and limits")
        environment = {variable["name"]: variable for variable in container.get("env", [])}
        if environment.get("OTEL_SERVICE_NAME", {}).get("value") != f"cspr-{service}":
            error("k8s", f"{where}: OTEL_SERVICE_NAME must be cspr-{service} (the alerts' job)")
        if environment.get(f"CSPR_{service.upper()}_ADDR", {}).get("value") != f"0.0.0.0:{port}":
            error("k8s", f"{where}: CSPR_{service.upper()}_ADDR must be 0.0.0.0:{port}")
        if "CSPR_DATABASE_URL" not in environment:
            error("k8s", f"{where}: no CSPR_DATABASE_URL")
        for variable in list(environment) + list(config):
            generic = re.sub(r"^CSPR_(REGISTRY|SUBMISSIONS|PRACTITIONERS|FAMILY|ACTIONS|NOTIFICATIONS)_(ADDR|DATABASE_URL)$",
                             r"CSPR_<SERVICE>_\2", variable)
            if variable.startswith("OTEL_") and "`OTEL_*`" in readme:
                continue  # "the OpenTelemetry SDK's other standard variables"
            if variable.startswith(("CSPR_", "OTEL_")) and generic not in documented and variable not in documented:
                error("k8s", f"{where}: {variable} is not a variable of README.md's Configuration table")
        if service == "family" and "CSPR_FAMILY_DATA_KEY" not in environment:
            error("k8s", f"{where}: no CSPR_FAMILY_DATA_KEY")
        if service == "notifications" and "CSPR_SMTP_URL" not in environment:
            error("k8s", f"{where}: no CSPR_SMTP_URL (without it, emails go to files in the pod)")
        for kind in ("Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            if f"cspr-{service}" not in by_kind.get(kind, {}):
                error("k8s", f"{name}: no {kind} cspr-{service}")
        pdb = by_kind.get("PodDisruptionBudget", {}).get(f"cspr-{service}", {})
        if pdb.get("spec", {}).get("minAvailable") != 1:
            error("k8s", f"{name}: PodDisruptionBudget cspr-{service} minAvailable must be 1")
        hpa = by_kind.get("HorizontalPodAutoscaler", {}).get(f"cspr-{service}", {})
        if hpa.get("spec", {}).get("scaleTargetRef", {}).get("name") != f"cspr-{service}":
            error("k8s", f"{name}: HorizontalPodAutoscaler cspr-{service} does not scale the Deployment")
        selector = deployment["spec"]["selector"]["matchLabels"]
        service_doc = by_kind.get("Service", {}).get(f"cspr-{service}", {})
        if service_doc.get("spec", {}).get("selector") != selector:
            error("k8s", f"{name}: Service cspr-{service} does not select the Deployment's pods")
    check_web_deployment(name, by_kind, documented, readme)
    nats = by_kind.get("StatefulSet", {}).get("nats")
    if nats is None:
        error("k8s", f"{name}: no StatefulSet nats")
    else:
        headless = by_kind.get("Service", {}).get(nats["spec"]["serviceName"], {})
        if headless.get("spec", {}).get("clusterIP") != "None":
            error("k8s", f"{name}: the StatefulSet's serviceName must be a headless Service")
        if nats["spec"]["replicas"] != 3:
            error("k8s", f"{name}: NATS must have 3 replicas")
        conf = next((doc["data"]["nats.conf"] for doc in docs if doc["kind"] == "ConfigMap"
                     and doc["metadata"]["name"].startswith("nats-config")), "")
        routes = re.findall(r"nats-route://([\w.-]+):6222", conf)
        expected = [f"nats-{index}.{nats['spec']['serviceName']}" for index in range(3)]
        if routes != expected:
            error("k8s", f"{name}: NATS routes {routes}, expected {expected}")
    ok(f"{name}: six services (args, port, gRPC probes, shutdown timing, security, resources, env names in README, "
       "Service/PDB/HPA), NATS StatefulSet (3, headless, routes nats-0..2), CSPR_NATS_STREAM_REPLICAS=3", start)


def check_shutdown_timing(where: str, pod: dict, container: dict, config: dict[str, str]) -> None:
    """The probes, preStop and kill deadline agree with what cspr does on SIGTERM: NOT_SERVING
    while still serving for CSPR_SHUTDOWN_DRAIN, stopped within CSPR_SHUTDOWN_GRACE."""
    environment = dict(config)
    environment.update({variable["name"]: variable["value"] for variable in container.get("env", [])
                        if "value" in variable})
    drain, grace = shutdown_timing(environment)
    if drain >= grace:
        error("k8s", f"{where}: CSPR_SHUTDOWN_DRAIN {drain:g}s must be shorter than CSPR_SHUTDOWN_GRACE {grace:g}s")
    readiness = container.get("readinessProbe", {})
    noticed = readiness.get("periodSeconds", 10) * readiness.get("failureThreshold", 3)
    if noticed > drain:
        error("k8s", f"{where}: readiness needs {noticed}s (period x failureThreshold) to see NOT_SERVING, "
                     f"longer than the {drain:g}s drain during which the pod still serves")
    liveness = container.get("livenessProbe", {})
    if liveness.get("periodSeconds", 10) * liveness.get("failureThreshold", 3) <= grace:
        error("k8s", f"{where}: liveness would restart a pod that answers NOT_SERVING for its {grace:g}s shutdown")
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    command = pre_stop.get("exec", {}).get("command", [])
    delay = (pre_stop.get("sleep", {}).get("seconds", 0)
             or (seconds(command[1]) if command[:1] == ["sleep"] and len(command) == 2 else 0))
    if pre_stop and not delay:
        error("k8s", f"{where}: a preStop other than a sleep: its time cannot be checked against the grace period")
    kill_after = pod.get("terminationGracePeriodSeconds", 30)
    if kill_after < delay + grace + SHUTDOWN_MARGIN:
        error("k8s", f"{where}: terminationGracePeriodSeconds {kill_after} kills the pod before preStop ({delay:g}s) "
                     f"+ CSPR_SHUTDOWN_GRACE ({grace:g}s) + {SHUTDOWN_MARGIN}s are over")


def check_cnpg(name: str, docs: list[dict], service_docs: list[dict]) -> None:
    start = len(errors)
    clusters = [doc for doc in docs if doc["apiVersion"] == "postgresql.cnpg.io/v1" and doc["kind"] == "Cluster"]
    if len(clusters) != 1:
        error("k8s", f"{name}: expected one CloudNativePG Cluster")
        return
    cluster = clusters[0]
    spec = cluster["spec"]
    if spec.get("instances") != 3:
        error("k8s", f"{name}: Cluster instances must be 3")
    statements = spec.get("bootstrap", {}).get("initdb", {}).get("postInitSQL", [])
    for service in SERVICES:
        if not any(re.fullmatch(rf"CREATE DATABASE cspr_{service} OWNER \w+", s) for s in statements):
            error("k8s", f"{name}: postInitSQL does not create cspr_{service}")
    secret = f"{cluster['metadata']['name']}-app"
    for doc in service_docs:
        if doc["kind"] != "Deployment":
            continue
        for variable in doc["spec"]["template"]["spec"]["containers"][0].get("env", []):
            if variable["name"] == "CSPR_DATABASE_URL":
                reference = variable.get("valueFrom", {}).get("secretKeyRef", {})
                if reference.get("name") != secret or reference.get("key") != "uri":
                    error("k8s", f"{name}: {doc['metadata']['name']} reads CSPR_DATABASE_URL from {reference}, "
                                 f"CloudNativePG writes {secret}/uri")
    for doc in docs:
        if doc["apiVersion"].startswith("postgresql.cnpg.io/") and doc["kind"] == "ScheduledBackup":
            if doc["spec"].get("cluster", {}).get("name") != cluster["metadata"]["name"]:
                error("k8s", f"{name}: ScheduledBackup is not for {cluster['metadata']['name']}")
            if len(doc["spec"].get("schedule", "").split()) != 6:
                error("k8s", f"{name}: ScheduledBackup schedule needs 6 fields (seconds first)")
    ok(f"{name}: CloudNativePG Cluster {cluster['metadata']['name']} (shape only: instances 3, the six databases, "
       f"Secret {secret}/uri used by every service, ScheduledBackup)", start)


def check_k8s(kubectl: str | None) -> None:
    import kubernetes_validate  # in the venv

    section("Kubernetes (kustomize)")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = {"base": INFRA / "k8s" / "base", "overlays/production": INFRA / "k8s" / "overlays" / "production"}
    for label, directory in targets.items():
        fallback = render(directory)
        if kubectl:
            result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True)
            if result.returncode != 0:
                error("k8s", f"{label}: kubectl kustomize failed:\n{result.stderr}")
                continue
            docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
            generated = generated_names(directory)
            real, mine = normalize(docs, generated), normalize(copy.deepcopy(fallback), generated)
            if set(real) != set(mine):
                error("k8s", f"{label}: the fallback renderer's resources differ from kubectl's: "
                             f"{sorted(set(real) ^ set(mine))}")
            else:
                for key in real:
                    difference = first_difference(real[key], mine[key])
                    if difference:
                        error("k8s", f"{label}: fallback renderer differs from kubectl on {key}: {difference} "
                                     "(update render() in infra/validate.py)")
                        break
                else:
                    ok(f"{label}: the fallback renderer matches kubectl kustomize ({len(docs)} resources)")
            how = "kubectl kustomize"
        else:
            docs = fallback
            how = "the fallback renderer (no kubectl)"
        kinds = {}
        for doc in docs:
            kinds[doc["kind"]] = kinds.get(doc["kind"], 0) + 1
        ok(f"{label}: rendered by {how}: " + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())))
        standard = [doc for doc in docs if not doc["apiVersion"].startswith("postgresql.cnpg.io/")]
        custom = [doc for doc in docs if doc["apiVersion"].startswith("postgresql.cnpg.io/")]
        for version in K8S_VERSIONS:
            failures = 0
            for doc in standard:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.SchemaNotFoundError:
                    failures += 1
                    error("k8s", f"{label}: no Kubernetes {version} schema for {doc['apiVersion']} {doc['kind']}")
                except kubernetes_validate.ValidationError as problem:
                    failures += 1
                    path = ".".join(str(part) for part in problem.path)
                    error("k8s", f"{label}: {doc['kind']}/{doc['metadata']['name']} invalid for Kubernetes {version} at {path}: {problem.message}")
            if not failures:
                ok(f"{label}: {len(standard)} standard resources valid for Kubernetes {version} "
                   f"(kubernetes-validate {kubernetes_validate.__version__}, strict)")
        if custom:
            print(f"  note  {label}: {len(custom)} CloudNativePG resources ({', '.join(sorted({d['kind'] for d in custom}))}) "
                  "have no schema offline; their shape is checked below")
        check_service_deployments(label, standard, readme)
        if custom:
            check_cnpg(label, custom, standard)


# ------------------------------------------------------------------------------ nats

def check_nats(nats_server: str | None) -> None:
    section("NATS configs")
    configs = [INFRA / "nats" / "nats.conf", *sorted((INFRA / "nats" / "cluster").glob("nats-*.conf")),
               INFRA / "k8s" / "base" / "nats" / "nats.conf"]
    if not nats_server:
        print("  skip  nats-server is not installed (Debian package nats-server): configs not parsed")
        return
    start = len(errors)
    for config in configs:
        result = subprocess.run([nats_server, "-c", str(config), "-t"], capture_output=True, text=True,
                                env={**os.environ, "POD_NAME": "nats-0"})
        if result.returncode != 0:
            error("nats", f"{rel(config)}: {result.stdout}{result.stderr}")
    version = subprocess.run([nats_server, "--version"], capture_output=True, text=True).stdout.strip()
    ok(f"{len(configs)} configs valid ({version} -t): " + ", ".join(rel(config) for config in configs), start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--promtool", required=True)
    parser.add_argument("--kubectl")
    parser.add_argument("--nats-server")
    arguments = parser.parse_args()

    check_compose()
    check_otel()
    section("metric names (infra/metrics.txt)")
    metrics = load_metrics()
    ok(f"infra/metrics.txt: {len(metrics)} metrics "
       f"({sum(kind == 'histogram' for kind in metrics.values())} histograms)")
    check_alerts(metrics)
    check_dashboards(metrics, arguments.promtool)
    check_k8s(arguments.kubectl)
    check_nats(arguments.nats_server)

    if errors:
        print(f"\n{len(errors)} problem(s):")
        for problem in errors:
            print(f"  - {problem}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
