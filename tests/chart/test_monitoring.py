"""The metrics path (monitoring.enabled): the collector, the ServiceMonitor, the
PrometheusRule (checked and unit-tested with promtool) and the Grafana dashboard, whose
every metric name must be one that really reaches Prometheus:

- Spin's own metrics as a real Spin 3.6.3 export has them (tests/otel/README.md, parsed
  here), named by the collector's Prometheus exporter: otel/opentelemetry-collector-contrib
  0.145.0's exporter/prometheusexporter builds names with prometheus/otlptranslator's
  MetricNamer (collector.go: `otlptranslator.MetricNamer{WithMetricSuffixes: ...}` for the
  default translation strategy UnderscoreEscapingWithSuffixes), whose normalizeName
  (metric_namer.go, tag v1.0.0) splits the name on every character outside [A-Za-z0-9:],
  joins with `_`, appends the unit's word (unitMap: ms → milliseconds, By → bytes, s →
  seconds; nothing for an empty unit or "1" or a `{...}` unit) and `_total` for monotonic
  sums; client_golang's const histograms add `_bucket`, `_sum`, `_count`. Spin leaves the
  OTLP unit empty (it puts the unit in a `unit` label), so its names get no unit suffix.
- the spanmetrics connector's `calls` (monotonic sum) and `duration` (histogram, unit
  `ms` by default) under its default namespace `traces.span.metrics`
  (connector/spanmetricsconnector README.md and factory.go `DefaultNamespace`);
- kube-state-metrics' documented names (KSM_DOCUMENTED below).
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import spinkube_crds
from conftest import ROOT, RenderError, by_kind, load_values, one, render
from spinkube_crds import requires_crds

OTEL_README = ROOT / "tests" / "otel" / "README.md"
RULES_TEST = ROOT / "monitoring" / "heart-disease-api.rules-test.yaml"
CHART_README = ROOT / "helm" / "heart-disease-api" / "README.md"
ON = {"executor": {"create": True}, "monitoring": {"enabled": True}}
COLLECTOR = "heart-disease-api-otel-collector"

# kube-state-metrics v2.20.0 (commit 4ffeda2ef866b0fef372849825a803296483b336),
# docs/metrics/workload/deployment-metrics.md, horizontalpodautoscaler-metrics.md and
# pod-metrics.md: the names used here, with the labels the queries select on.
KSM_DOCUMENTED = {
    "kube_deployment_spec_replicas": {"deployment", "namespace"},
    "kube_deployment_status_replicas_available": {"deployment", "namespace"},
    "kube_horizontalpodautoscaler_status_current_replicas": {"horizontalpodautoscaler", "namespace"},
    "kube_horizontalpodautoscaler_spec_min_replicas": {"horizontalpodautoscaler", "namespace"},
    "kube_horizontalpodautoscaler_spec_max_replicas": {"horizontalpodautoscaler", "namespace"},
    "kube_pod_container_info": {"container", "pod", "namespace", "image", "image_id",
                                "image_spec", "container_id", "uid"},
}

# prometheus/otlptranslator v1.0.0 metric_namer.go unitMap / perUnitMap (the part that matters).
_UNITS = {"d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
          "us": "microseconds", "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes",
          "MiBy": "mebibytes", "GiBy": "gibibytes", "1": "", "%": "percent"}
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}


def prometheus_name(name: str, unit: str, kind: str) -> str:
    """otlptranslator's normalizeName (WithMetricSuffixes, no namespace)."""
    tokens = [t for t in re.split(r"[^A-Za-z0-9:]+", name) if t]
    main, _, per = unit.partition("/")
    main, per = main.strip(), per.strip()
    if main and "{" not in main and "}" not in main:
        word = "_".join(t for t in re.split(r"[^A-Za-z0-9]+", _UNITS.get(main, main)) if t)
        if word and word not in tokens:
            tokens.append(word)
    if per and "{" not in per and "}" not in per:
        word = _PER_UNITS.get(per, per)
        if word not in tokens:
            tokens += ["per", word]
    if kind == "counter":
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if unit == "1" and kind == "gauge":
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    return "_".join(tokens)


def exposed(name: str, unit: str, kind: str) -> set[str]:
    base = prometheus_name(name, unit, kind)
    return {f"{base}_{s}" for s in ("bucket", "sum", "count")} if kind == "histogram" else {base}


def spin_export() -> dict[str, str]:
    """Metric name -> kind, from the Metrics table of tests/otel/README.md (a real export)."""
    text = OTEL_README.read_text()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    assert "The OTLP `unit` and `description` fields are **empty** on every metric" in section
    rows = re.findall(r"^\| `(spin\.[a-z_.]+)` \| ([^|]+) \|", section, re.MULTILINE)
    out = {}
    for name, typ in rows:
        if typ.startswith("sum, monotonic"):
            out[name] = "counter"
        elif typ.startswith("histogram"):
            out[name] = "histogram"
        else:
            raise AssertionError(f"unexpected type {typ!r} of {name}")
    return out


def known_names() -> dict[str, str]:
    """Every Prometheus name the dashboard and the rules may use -> where it comes from."""
    names = {}
    for name, kind in spin_export().items():
        for n in exposed(name, "", kind):  # Spin's OTLP unit is empty
            names[n] = f"Spin 3.6.3 export {name}"
    for name, unit, kind in (("traces.span.metrics.calls", "", "counter"),
                             ("traces.span.metrics.duration", "ms", "histogram")):
        for n in exposed(name, unit, kind):
            names[n] = f"spanmetrics {name}"
    for n in KSM_DOCUMENTED:
        names[n] = "kube-state-metrics"
    return names


_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
             "group_left", "group_right", "inf", "nan", "Inf", "NaN"}


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression (selectors outside strings, matchers,
    ranges and grouping clauses, that are not function calls or keywords)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", s):
        if s[m.end():].lstrip().startswith("(") or m.group(0) in _KEYWORDS:
            continue
        names.add(m.group(0))
    return names


@pytest.fixture(scope="module")
def objs() -> list[dict]:
    return render(ON)


def _dashboard(objs: list[dict]) -> dict:
    cm = [o for o in by_kind(objs, "ConfigMap") if o["metadata"]["name"].endswith("-dashboard")]
    (cm,) = cm
    return json.loads(cm["data"]["heart-disease-api.json"])


def _dashboard_exprs(objs: list[dict]) -> list[str]:
    return [t["expr"] for p in _dashboard(objs)["panels"] for t in p["targets"]]


def _rule_exprs(objs: list[dict]) -> list[str]:
    return [r["expr"] for g in one(objs, "PrometheusRule")["spec"]["groups"] for r in g["rules"]]


# --- names ---------------------------------------------------------------------------------

def test_name_rules_on_known_cases():
    assert prometheus_name("spin.request_count", "", "counter") == "spin_request_count_total"
    assert prometheus_name("traces.span.metrics.duration", "ms", "histogram") == \
        "traces_span_metrics_duration_milliseconds"
    assert prometheus_name("http.server.request.duration", "s", "histogram") == \
        "http_server_request_duration_seconds"
    assert prometheus_name("system.memory.usage", "By", "gauge") == "system_memory_usage_bytes"
    assert prometheus_name("requests", "{request}/s", "counter") == "requests_per_second_total"
    assert prometheus_name("cpu.utilization", "1", "gauge") == "cpu_utilization_ratio"
    assert spin_export() == {"spin.request_count": "counter", "spin.component_cpu_time": "histogram",
                             "spin.component_memory_used_on_init": "histogram",
                             "spin.component_memory_used": "histogram"}


def test_metric_name_extraction():
    assert metric_names('sum by (le) (rate(a_bucket{x="y",z=~"5.."}[5m])) / on(job) group_left(p) b') == {"a_bucket", "b"}
    assert metric_names('label_replace(rate(c_total{a="b"}[5m]), "s", "${1}xx", "code", "([0-9]).+") > 0.05') == {"c_total"}
    assert metric_names('histogram_quantile(0.99, sum without (pod) (rate(d[1m]))) >= bool e offset 5m') == {"d", "e"}


def test_every_metric_name_is_real(objs):
    known = known_names()
    exprs = _dashboard_exprs(objs) + _rule_exprs(objs)
    used = set().union(*(metric_names(e) for e in exprs))
    assert used, exprs
    unknown = used - set(known)
    assert not unknown, f"names no source produces: {sorted(unknown)}"
    # The panels the issue asks for draw on each source.
    assert {"traces_span_metrics_calls_total", "traces_span_metrics_duration_milliseconds_bucket",
            "spin_request_count_total", "spin_component_memory_used_sum",
            "spin_component_memory_used_count", "kube_deployment_status_replicas_available",
            "kube_horizontalpodautoscaler_status_current_replicas",
            "kube_horizontalpodautoscaler_spec_min_replicas",
            "kube_horizontalpodautoscaler_spec_max_replicas", "kube_pod_container_info"} <= used


def test_selectors_use_labels_that_exist(objs):
    """Label names in the matchers: the collector's scrape target labels (namespace, job),
    the spanmetrics dimensions as the exporter names them, or kube-state-metrics' documented
    labels of that metric."""
    span_labels = {"namespace", "job", "span_kind", "span_name", "status_code", "service_name",
                   "http_request_method", "http_response_status_code", "le"}
    for expr in _dashboard_exprs(objs) + _rule_exprs(objs):
        for name, matchers in re.findall(r"([a-z_:]+)\{([^}]*)\}", expr):
            labels = set(re.findall(r"([a-z_]+)\s*(?:=~|!=|!~|=)", matchers))
            allowed = KSM_DOCUMENTED.get(name) or span_labels
            assert labels <= allowed, (name, labels - allowed)
            assert 'namespace="heart-disease"' in matchers, expr


def test_dashboard_queries_parse(tmp_path, objs):
    """promtool parses every dashboard query (as a recording rule)."""
    rules = [{"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(_dashboard_exprs(objs))]
    f = tmp_path / "dashboard.yaml"
    f.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    proc = subprocess.run([_promtool(), "check", "rules", str(f)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- the alerts, with promtool ------------------------------------------------------------

def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found: install Debian's `prometheus` package (apt-get install prometheus)"
    return path


def _run_rule_tests(tmp_path: Path, rule: dict) -> subprocess.CompletedProcess:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    check = subprocess.run([_promtool(), "check", "rules", "rules.yaml"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    return subprocess.run([_promtool(), "test", "rules", RULES_TEST.name], cwd=tmp_path,
                          capture_output=True, text=True)


def test_alerts_pass_promtool_unit_tests(tmp_path, objs):
    rule = one(objs, "PrometheusRule")
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert alerts == ["HeartApiHighErrorRatio", "HeartApiHighLatencyP99", "HeartApiPodsNotReady",
                      "HeartApiHpaAtMaximum"]
    proc = _run_rule_tests(tmp_path, rule)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Each alert is expected to fire in one case and to stay silent in another.
    cases = yaml.safe_load(RULES_TEST.read_text())["tests"]
    for alert in alerts:
        checks = [c for t in cases for c in t["alert_rule_test"] if c["alertname"] == alert]
        assert any(c["exp_alerts"] for c in checks), alert
        assert any(not c["exp_alerts"] for c in checks), alert


def test_promtool_unit_tests_are_live(tmp_path, objs):
    """A rule that no longer fires makes the unit tests fail."""
    rule = copy.deepcopy(one(objs, "PrometheusRule"))
    for r in rule["spec"]["groups"][0]["rules"]:
        r["expr"] = r["expr"].replace("> 0.05", "> 0.5")
    proc = _run_rule_tests(tmp_path, rule)
    assert proc.returncode != 0 and "HeartApiHighErrorRatio" in proc.stdout + proc.stderr


def test_no_hpa_alert_without_autoscaling():
    rule = one(render({**ON, "autoscaling": {"enabled": False}}), "PrometheusRule")
    assert "HeartApiHpaAtMaximum" not in [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert not by_kind(render({**ON, "monitoring": {"enabled": True, "alerts": {"enabled": False}}}),
                       "PrometheusRule")


def test_readme_has_a_runbook_line_per_alert(objs):
    runbook = CHART_README.read_text().split("### Runbook", 1)[1].split("\n## ", 1)[0]
    for g in one(objs, "PrometheusRule")["spec"]["groups"]:
        for r in g["rules"]:
            line = next((l for l in runbook.splitlines() if f"`{r['alert']}`" in l), "")
            assert all(word in line for word in ("Means", "Check", "Do")), (r["alert"], line)


# --- wiring ---------------------------------------------------------------------------------

def test_off_by_default():
    for name in ("default", "dev", "prod"):
        objs = render(load_values(name))
        assert not [o for o in objs if "otel-collector" in o["metadata"]["name"]
                    or o["kind"] in ("ServiceMonitor", "PrometheusRule", "Deployment")], name


def test_needs_the_chart_owned_executor():
    with pytest.raises(RenderError, match="monitoring.enabled needs executor.create=true"):
        render({"monitoring": {"enabled": True}})
    with pytest.raises(RenderError, match="leave otel.tracesEndpoint and otel.metricsEndpoint empty"):
        render({**ON, "otel": {"enabled": True, "tracesEndpoint": "http://t:4318/v1/traces"}})


def test_executor_sends_traces_and_metrics_to_the_collector(objs):
    otel = one(objs, "SpinAppExecutor")["spec"]["deploymentConfig"]["otel"]
    base = f"http://{COLLECTOR}.heart-disease.svc.cluster.local:4318"
    assert otel == {"exporter_otlp_traces_endpoint": f"{base}/v1/traces",
                    "exporter_otlp_metrics_endpoint": f"{base}/v1/metrics"}
    svc = [s for s in by_kind(objs, "Service") if s["metadata"]["name"] == COLLECTOR][0]
    assert {"name": "otlp-http", "protocol": "TCP", "port": 4318, "targetPort": "otlp-http"} in svc["spec"]["ports"]
    # otel.enabled as well: its endpoint takes the remaining signal (logs).
    both = one(render({**ON, "otel": {"enabled": True}}), "SpinAppExecutor")["spec"]["deploymentConfig"]["otel"]
    assert both["exporter_otlp_endpoint"] == "http://otel-collector.observability.svc.cluster.local:4318"
    assert both["exporter_otlp_traces_endpoint"] == f"{base}/v1/traces"


def test_collector_configuration(objs):
    cm = [o for o in by_kind(objs, "ConfigMap") if o["metadata"]["name"] == COLLECTOR][0]
    cfg = yaml.safe_load(cm["data"]["config.yaml"])
    assert cfg["receivers"]["otlp"]["protocols"] == {"http": {"endpoint": "0.0.0.0:4318"}}
    sm = cfg["connectors"]["spanmetrics"]
    assert sm["namespace"] == "traces.span.metrics" and sm["histogram"]["unit"] == "ms"
    assert [d["name"] for d in sm["dimensions"]] == ["http.request.method", "http.response.status_code"]
    assert cfg["processors"]["resource"]["attributes"] == [
        {"key": "service.name", "value": "heart-disease-api", "action": "upsert"}]
    # The exporter's default translation (UnderscoreEscapingWithSuffixes): the names below.
    assert cfg["exporters"]["prometheus"] == {"endpoint": "0.0.0.0:8889"}
    pipes = cfg["service"]["pipelines"]
    assert pipes["traces"]["exporters"] == ["spanmetrics"]
    assert pipes["metrics/spanmetrics"]["receivers"] == ["spanmetrics"]
    assert pipes["metrics/spin"]["receivers"] == ["otlp"]
    assert {tuple(p["exporters"]) for n, p in pipes.items() if n.startswith("metrics")} == {("prometheus",)}
    dep = one(objs, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "otel/opentelemetry-collector-contrib:0.145.0"
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"otlp-http": 4318, "metrics": 8889, "health": 13133}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["automountServiceAccountToken"] is False
    assert dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def test_servicemonitor_scrapes_the_collector(objs):
    sm = one(objs, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    svc = [s for s in by_kind(objs, "Service") if s["metadata"]["name"] == COLLECTOR][0]
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"][0]["port"] in {p["name"] for p in svc["spec"]["ports"]}
    assert one(objs, "PrometheusRule")["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    other = render({**ON, "monitoring": {"enabled": True, "prometheusRelease": "prom"}})
    assert one(other, "ServiceMonitor")["metadata"]["labels"]["release"] == "prom"


def test_dashboard(objs):
    cm = [o for o in by_kind(objs, "ConfigMap") if o["metadata"]["name"].endswith("-dashboard")][0]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dash = _dashboard(objs)
    assert "__" not in json.dumps(dash), "a placeholder was not replaced"
    titles = [p["title"] for p in dash["panels"]]
    assert titles == ["Requests per second by status class", "Error ratio", "Latency p50 / p95 / p99",
                      "Instance memory", "Pods and HPA replicas", "Image (model build) serving"]
    assert len({p["id"] for p in dash["panels"]}) == len(titles)
    other = _dashboard(render({**ON}, release="demo"))
    assert other["uid"] != dash["uid"]


def test_networkpolicies_with_monitoring():
    objs = render({**ON, "networkPolicy": {"enabled": True}})
    nps = {np["metadata"]["name"]: np for np in by_kind(objs, "NetworkPolicy")}
    app, col = nps["heart-disease-api"], nps[COLLECTOR]
    collector_labels = one(objs, "Deployment")["spec"]["selector"]["matchLabels"]
    assert {"to": [{"podSelector": {"matchLabels": collector_labels}}],
            "ports": [{"protocol": "TCP", "port": 4318}]} in app["spec"]["egress"]
    assert col["spec"]["podSelector"] == {"matchLabels": collector_labels}
    assert col["spec"]["ingress"][0] == {
        "from": [{"podSelector": {"matchLabels": {"core.spinkube.dev/app-name": "heart-disease-api"}}}],
        "ports": [{"protocol": "TCP", "port": 4318}]}
    assert col["spec"]["ingress"][1]["ports"] == [{"protocol": "TCP", "port": 8889}]
    assert col["spec"]["egress"] == []


@functools.cache
def _render_switched(name: str, enabled: bool) -> list[dict]:
    """A values file with monitoring switched on or off (rendered once for both tests below)."""
    values = copy.deepcopy(load_values(name))
    values.setdefault("monitoring", {})["enabled"] = enabled
    if enabled:
        values.setdefault("executor", {})["create"] = True
    return render(values)


@pytest.mark.parametrize("name", ["default", "dev", "prod", "all-on"])
def test_every_values_file_renders_with_monitoring_on_and_off(name):
    """Each values file, with the switch on and off: it renders, and the monitoring objects
    come and go with it."""
    for enabled in (True, False):
        kinds = {o["kind"] for o in _render_switched(name, enabled)}
        assert ({"ServiceMonitor", "PrometheusRule"} <= kinds) == enabled, (name, enabled, kinds)


@requires_crds
@pytest.mark.parametrize("name", ["default", "dev", "prod", "all-on"])
def test_every_values_file_validates_against_the_crds_with_monitoring_on_and_off(name):
    """The same renders: every custom resource validates strictly against its upstream CRD."""
    for enabled in (True, False):
        for o in _render_switched(name, enabled):
            if (o["apiVersion"], o["kind"]) in spinkube_crds.crds():
                errors = list(spinkube_crds.validator(o["apiVersion"], o["kind"], "1.34.0").iter_errors(o))
                assert not errors, (name, enabled, o["kind"], [e.message for e in errors])
