"""The chart's parts agree with each other, with the spin-operator's conventions,
with the issue's figures, and with the plain manifests in k8s/."""

from __future__ import annotations

import json

import re

import yaml

from conftest import CHART, K8S, OPERATOR_POD_LABEL, ROOT, VALUE_SETS, by_kind, load_values, one, render


def test_default_nodeport_is_30080():
    svc = one(render({}), "Service")
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http-app", "nodePort": 30080}
    ]


def _app(objs, kind):
    """The app's object of a kind (monitoring adds the collector's and the dashboard's, the
    drain hook its ServiceAccount)."""
    return one([o for o in objs if not o["metadata"]["name"].endswith(
        ("-otel-collector", "-dashboard", "-drain"))], kind)


def test_service_selects_operator_pods_and_does_not_collide(rendered):
    spinapp = one(rendered, "SpinApp")
    name = spinapp["metadata"]["name"]
    svc = _app(rendered, "Service")
    assert svc["spec"]["selector"] == {OPERATOR_POD_LABEL: name}
    assert svc["spec"]["ports"][0]["targetPort"] == "http-app"
    # The operator creates a ClusterIP Service named like the SpinApp.
    assert svc["metadata"]["name"] != name


def test_hpa_targets_operator_deployment(rendered):
    spinapp = one(rendered, "SpinApp")
    hpas = by_kind(rendered, "HorizontalPodAutoscaler")
    if not hpas:
        assert "enableAutoscaling" not in spinapp["spec"]
        assert spinapp["spec"]["replicas"] >= 1
        return
    (hpa,) = hpas
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": spinapp["metadata"]["name"]}
    assert spinapp["spec"]["enableAutoscaling"] is True
    assert "replicas" not in spinapp["spec"]
    metrics = {m["resource"]["name"]: m["resource"]["target"] for m in hpa["spec"]["metrics"]}
    assert metrics == {"cpu": {"type": "Utilization", "averageUtilization": 80},
                       "memory": {"type": "Utilization", "averageUtilization": 80}}


def test_selectors_of_pdb_and_networkpolicy(rendered):
    name = one(rendered, "SpinApp")["metadata"]["name"]
    for pdb in by_kind(rendered, "PodDisruptionBudget"):
        assert pdb["spec"]["selector"] == {"matchLabels": {OPERATOR_POD_LABEL: name}}
    for np in by_kind(rendered, "NetworkPolicy"):
        if np["metadata"]["name"].endswith("-otel-collector"):
            continue  # the collector's own (test_monitoring.py)
        assert np["spec"]["podSelector"] == {"matchLabels": {OPERATOR_POD_LABEL: name}}


def test_networkpolicy_opens_only_app_port_and_dns():
    np = one(render(load_values("prod")), "NetworkPolicy")
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert [r["ports"] for r in np["spec"]["ingress"]] == [[{"protocol": "TCP", "port": 80}]]
    (egress,) = np["spec"]["egress"]
    assert egress["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert egress["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    # With OpenTelemetry on, the collectors' ports are the one extra egress rule.
    np = one(render({"executor": {"create": True}, "otel": {"enabled": True},
                     "networkPolicy": {"enabled": True}}), "NetworkPolicy")
    assert np["spec"]["egress"][1] == {"ports": [{"protocol": "TCP", "port": 4318}]}
    # ...each per-signal endpoint's port too: explicit, else 443 for https, once each.
    np = one(render({"executor": {"create": True}, "networkPolicy": {"enabled": True}, "otel": {
        "enabled": True, "tracesEndpoint": "http://tempo.observability.svc.cluster.local:4318/v1/traces",
        "metricsEndpoint": "http://prometheus.monitoring.svc.cluster.local:9090/api/v1/otlp/v1/metrics",
        "logsEndpoint": "https://loki.observability.svc.cluster.local/otlp/v1/logs"}}), "NetworkPolicy")
    assert np["spec"]["egress"][1] == {"ports": [{"protocol": "TCP", "port": p} for p in (4318, 9090, 443)]}
    # all-on: the release's collector (monitoring) first, then otel.endpoint's and the logs endpoint's ports.
    np = _app(render(load_values("all-on")), "NetworkPolicy")
    assert np["spec"]["egress"][1]["ports"] == [{"protocol": "TCP", "port": 4318}]
    assert np["spec"]["egress"][2] == {"ports": [{"protocol": "TCP", "port": p} for p in (4318, 443)]}


def test_health_checks_default_to_health(rendered):
    checks = one(rendered, "SpinApp")["spec"]["checks"]
    assert checks["readiness"]["httpGet"] == {"path": "/health"}
    assert checks["liveness"]["httpGet"] == {"path": "/health"}


def _quantity(value: str) -> float:
    """A Kubernetes CPU (cores) or memory (bytes) quantity, for the forms the chart uses."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def test_resources_follow_the_measurements():
    """Requests and limits of every values file against bench/shim/results.json (the
    component on containerd-shim-spin): the memory limit is at least twice the highest memory
    any of the app's processes reached (the shim's peak while precompiling, the container
    process under load), the memory request covers the container process under load, and the
    CPU request lets the HPA act before the pod hits its CPU limit."""
    measured = json.loads((ROOT / "bench" / "shim" / "results.json").read_text())
    runs = [measured["precompile"]["ours"], *measured["cases"].values()]
    peak = max(run["memory"]["vmhwm_kib_max"] for run in runs) * 1024
    under_load = max(run["memory"]["container_vmhwm_kib"] for run in measured["cases"].values()) * 1024
    for name in VALUE_SETS:
        res = one(render(load_values(name)), "SpinApp")["spec"]["resources"]
        assert _quantity(res["limits"]["memory"]) >= 2 * peak, (name, res, peak)
        assert _quantity(res["requests"]["memory"]) >= under_load, (name, res, under_load)
        assert _quantity(res["requests"]["cpu"]) < _quantity(res["limits"]["cpu"]), (name, res)


def test_replica_ranges():
    prod_hpa = one(render(load_values("prod")), "HorizontalPodAutoscaler")["spec"]
    assert (prod_hpa["minReplicas"], prod_hpa["maxReplicas"]) == (3, 10)
    default_hpa = one(render({}), "HorizontalPodAutoscaler")["spec"]
    assert (default_hpa["minReplicas"], default_hpa["maxReplicas"]) == (2, 10)


def test_optional_parts_are_wired():
    objs = render(load_values("all-on"))
    spinapp = one(objs, "SpinApp")
    name = spinapp["metadata"]["name"]
    executor = one(objs, "SpinAppExecutor")
    assert spinapp["spec"]["executor"] == executor["metadata"]["name"]
    assert executor["spec"]["deploymentConfig"] == {
        "runtimeClassName": "wasmtime-spin-v2",
        "installDefaultCACerts": True,
        "otel": {
            "exporter_otlp_endpoint": "http://otel-collector.observability.svc.cluster.local:4318",
            "exporter_otlp_traces_endpoint": "http://heart-disease-api-otel-collector.heart-disease.svc.cluster.local:4318/v1/traces",
            "exporter_otlp_metrics_endpoint": "http://heart-disease-api-otel-collector.heart-disease.svc.cluster.local:4318/v1/metrics",
            "exporter_otlp_logs_endpoint": "https://loki.observability.svc.cluster.local/otlp/v1/logs",
        }}
    sa = _app(objs, "ServiceAccount")
    assert spinapp["spec"]["serviceAccountName"] == sa["metadata"]["name"]
    assert sa["automountServiceAccountToken"] is False
    ingress = one(objs, "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": _app(objs, "Service")["metadata"]["name"], "port": {"name": "http"}}
    assert spinapp["spec"]["image"].endswith("@sha256:" + "0" * 64)
    assert spinapp["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    annotations = spinapp["spec"]["podAnnotations"]
    assert set(annotations) == {"checksum/executor", "example.com/owner"}
    assert name == "heart-disease-api"


def test_otel_per_signal_endpoints_are_optional():
    """Only otel.endpoint is required; an empty per-signal endpoint is left out (the
    operator then sets no OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT and the SDK uses the
    default endpoint for that signal)."""
    values = {"executor": {"create": True}, "otel": {"enabled": True, "endpoint": "http://c:4318",
                                                    "tracesEndpoint": "http://t:4318/v1/traces"}}
    otel = one(render(values), "SpinAppExecutor")["spec"]["deploymentConfig"]["otel"]
    assert otel == {"exporter_otlp_endpoint": "http://c:4318",
                    "exporter_otlp_traces_endpoint": "http://t:4318/v1/traces"}
    no_otel = one(render({"executor": {"create": True}}), "SpinAppExecutor")
    assert "otel" not in no_otel["spec"]["deploymentConfig"]


def test_executor_checksum_follows_executor():
    """The operator reads the executor only when it reconciles the SpinApp, so the
    SpinApp carries a checksum of it: a new endpoint changes the SpinApp and rolls the pods."""
    base = {"executor": {"create": True}, "otel": {"enabled": True}}
    changed = {"executor": {"create": True}, "otel": {"enabled": True, "endpoint": "http://other:4318"}}
    a = one(render(base), "SpinApp")["spec"]["podAnnotations"]["checksum/executor"]
    b = one(render(changed), "SpinApp")["spec"]["podAnnotations"]["checksum/executor"]
    assert a != b
    assert "podAnnotations" not in one(render({}), "SpinApp")["spec"]


def test_executor_checksum_follows_only_the_executor():
    """With every part on: a value the executor renders (the logs endpoint) changes the
    checksum, a value it does not (a pod label) leaves it as it was."""
    base = load_values("all-on")

    def checksum(values):
        return one(render(values), "SpinApp")["spec"]["podAnnotations"]["checksum/executor"]

    logs = yaml.safe_load(yaml.safe_dump(base))
    logs["otel"]["logsEndpoint"] = "https://other-loki.observability.svc.cluster.local/otlp/v1/logs"
    label = yaml.safe_load(yaml.safe_dump(base))
    label["podLabels"]["team"] = "oncology"
    assert checksum(logs) != checksum(base)
    assert checksum(label) == checksum(base)


def test_plain_executor_matches_chart():
    """k8s/spinapp-executor.yaml is the executor the chart names by default, on the
    RuntimeClass the chart's own executor uses (the Shim of minikube-setup.sh creates it;
    test_minikube_setup.py checks that), with the same settings as the chart's executor."""
    ex = yaml.safe_load((K8S / "spinapp-executor.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert ex["metadata"]["name"] == values["executor"]["name"] \
        == one(render({}), "SpinApp")["spec"]["executor"] == "containerd-shim-spin"
    chart_ex = one(render({"executor": {"create": True}}), "SpinAppExecutor")
    assert ex["spec"] == chart_ex["spec"]
    assert ex["spec"]["deploymentConfig"]["runtimeClassName"] == values["executor"]["runtimeClassName"] \
        == "wasmtime-spin-v2"


def _leaf_keys(d: dict, prefix: str = "") -> set[str]:
    keys = set()
    for k, v in d.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            keys |= _leaf_keys(v, path + ".")
        else:
            keys.add(path)
    return keys


def test_readme_documents_every_value():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text().split("\n## Values\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([^`]+)` \|", readme, re.MULTILINE))
    # resources.*, checks.*, ingress.hosts etc. may be documented at their parent.
    leaves = _leaf_keys(values)
    missing = {k for k in leaves if k not in documented
               and not any(k.startswith(d + ".") for d in documented)}
    assert not missing, f"values without a README row: {sorted(missing)}"
    unknown = {d for d in documented
               if d not in leaves and not any(l.startswith(d + ".") for l in leaves)}
    assert not unknown, f"README rows for values that do not exist: {sorted(unknown)}"


def test_readme_defaults_are_the_values():
    """The README's Default column is each value as values.yaml sets it (compact JSON), so the
    table cannot drift from the chart (it once said 128Mi/512Mi where the chart sets
    64Mi/128Mi). Rows that abbreviate a long list (`…`) are checked by their first items."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text().split("\n## Values\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| [^|]+ \| `(.*?)` \|", readme, re.MULTILINE)
    assert len(rows) > 20, "the Values table was not found"
    for key, default in rows:
        value = values
        for part in key.split("."):
            value = value[part]
        if "…" in default:
            shown = [item.strip() for item in default.strip("[]").split(",")]
            cut = shown.index("…")
            head, tail = shown[:cut], shown[cut + 1:]
            assert head == [str(v) for v in value[:len(head)]] \
                and tail == [str(v) for v in value[len(value) - len(tail):]], \
                f"{key}: README {default}, values.yaml {value}"
        else:
            assert default == json.dumps(value, separators=(",", ":")), \
                f"{key}: README says {default}, values.yaml sets {json.dumps(value)}"


def test_every_value_has_a_comment():
    """values*.yaml (helm-docs style): a `# --` comment above every value. A key whose
    block is a group of values (no `# --` comment, children below) needs none itself;
    inside a value documented as a whole (e.g. resources), children need none."""
    for path in [CHART / "values.yaml", CHART / "values-dev.yaml", CHART / "values-prod.yaml"]:
        lines = path.read_text().splitlines()
        stack: list[tuple[int, bool]] = []  # (indent, documented as a whole)
        for i, line in enumerate(lines):
            m = re.match(r"^(\s*)(- )?([A-Za-z][\w.-]*):", line)
            if not m:
                continue
            indent = len(m.group(1)) + (2 if m.group(2) else 0)
            while stack and stack[-1][0] >= indent:
                stack.pop()
            # The `# --` line starts the description; comment lines below it continue it.
            j = i - 1
            while j > 0 and lines[j].strip().startswith("#") and not lines[j].strip().startswith("# --"):
                j -= 1
            prev = lines[j].strip() if j >= 0 else ""
            documented = re.match(r"^# -- \S", prev) is not None
            inside_documented = any(doc for _, doc in stack)
            nxt = next((l for l in lines[i + 1:] if l.strip() and not l.strip().startswith("#")), "")
            is_group = line.rstrip().endswith(":") and len(nxt) - len(nxt.lstrip()) > indent
            if not (documented or inside_documented or is_group or m.group(2)):
                raise AssertionError(f"{path.name}:{i + 1}: no `# --` comment above `{m.group(3)}`")
            stack.append((indent, documented))
