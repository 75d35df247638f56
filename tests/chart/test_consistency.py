"""The chart's parts agree with each other, with the spin-operator's conventions,
with the issue's figures, and with the plain manifests in k8s/."""

from __future__ import annotations

import re

import yaml

from conftest import CHART, K8S, OPERATOR_POD_LABEL, by_kind, load_values, one, render


def test_default_nodeport_is_30080():
    svc = one(render({}), "Service")
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http-app", "nodePort": 30080}
    ]


def test_service_selects_operator_pods_and_does_not_collide(rendered):
    spinapp = one(rendered, "SpinApp")
    name = spinapp["metadata"]["name"]
    svc = one(rendered, "Service")
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
        assert np["spec"]["podSelector"] == {"matchLabels": {OPERATOR_POD_LABEL: name}}


def test_networkpolicy_opens_only_app_port_and_dns():
    np = one(render(load_values("prod")), "NetworkPolicy")
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert [r["ports"] for r in np["spec"]["ingress"]] == [[{"protocol": "TCP", "port": 80}]]
    (egress,) = np["spec"]["egress"]
    assert egress["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert egress["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    # With OpenTelemetry on, the collector's port is the one extra egress.
    np = one(render(load_values("all-on")), "NetworkPolicy")
    assert np["spec"]["egress"][1] == {"ports": [{"protocol": "TCP", "port": 4318}]}


def test_health_checks_default_to_health(rendered):
    checks = one(rendered, "SpinApp")["spec"]["checks"]
    assert checks["readiness"]["httpGet"] == {"path": "/health"}
    assert checks["liveness"]["httpGet"] == {"path": "/health"}


def test_issue_figures_dev_and_prod():
    dev = one(render(load_values("dev")), "SpinApp")["spec"]
    assert dev["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "500m", "memory": "512Mi"}}
    prod_objs = render(load_values("prod"))
    prod = one(prod_objs, "SpinApp")["spec"]
    assert prod["resources"] == {"requests": {"cpu": "500m", "memory": "512Mi"},
                                 "limits": {"cpu": "1000m", "memory": "1Gi"}}
    hpa = one(prod_objs, "HorizontalPodAutoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
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
        "otel": {"endpoint": "http://otel-collector.observability.svc.cluster.local:4318"}}
    cm = one(objs, "ConfigMap")
    assert spinapp["spec"]["variables"] == [
        {"name": k, "valueFrom": {"configMapKeyRef": {"name": cm["metadata"]["name"], "key": k}}}
        for k in cm["data"]]
    secret = one(objs, "Secret")
    assert spinapp["spec"]["runtimeConfig"] == {"loadFromSecret": secret["metadata"]["name"]}
    assert set(secret["data"]) == {"runtime-config.toml"}
    sa = one(objs, "ServiceAccount")
    assert spinapp["spec"]["serviceAccountName"] == sa["metadata"]["name"]
    assert sa["automountServiceAccountToken"] is False
    ingress = one(objs, "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": one(objs, "Service")["metadata"]["name"], "port": {"name": "http"}}
    assert spinapp["spec"]["image"].endswith("@sha256:" + "0" * 64)
    assert spinapp["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    annotations = spinapp["spec"]["podAnnotations"]
    assert {"checksum/spin-variables", "checksum/runtime-config"} <= set(annotations)
    assert name == "heart-disease-api"


def test_config_checksum_follows_content():
    base = load_values("all-on")
    changed = yaml.safe_load(yaml.safe_dump(base))
    changed["spinVariables"]["values"]["log_level"] = "debug"
    a = one(render(base), "SpinApp")["spec"]["podAnnotations"]["checksum/spin-variables"]
    b = one(render(changed), "SpinApp")["spec"]["podAnnotations"]["checksum/spin-variables"]
    assert a != b


def _strip_helm(obj: dict) -> dict:
    obj = yaml.safe_load(yaml.safe_dump(obj))
    meta = obj["metadata"]
    meta.pop("namespace", None)
    meta.pop("annotations", None)
    for labels in (meta.get("labels", {}), obj.get("spec", {}).get("podLabels", {})):
        labels.pop("helm.sh/chart", None)
        labels.pop("app.kubernetes.io/managed-by", None)
    return obj


def test_plain_manifests_agree_with_default_render():
    chart = {(o["kind"], o["metadata"]["name"]): _strip_helm(o) for o in render({})}
    plain = {}
    for obj in yaml.safe_load_all((K8S / "heart-disease-api.yaml").read_text()):
        plain[(obj["kind"], obj["metadata"]["name"])] = _strip_helm(obj)
    assert plain.keys() == chart.keys()
    for key in chart:
        assert plain[key] == chart[key], key


def test_plain_executor_and_runtimeclass_match_chart():
    rc = yaml.safe_load((K8S / "runtime-class.yaml").read_text())
    ex = yaml.safe_load((K8S / "spinapp-executor.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert rc["handler"] == "spin"
    assert rc["metadata"]["name"] == ex["spec"]["deploymentConfig"]["runtimeClassName"] \
        == values["executor"]["runtimeClassName"] == "wasmtime-spin-v2"
    assert ex["metadata"]["name"] == values["executor"]["name"] \
        == one(render({}), "SpinApp")["spec"]["executor"]


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
            prev = lines[i - 1].strip() if i else ""
            documented = re.match(r"^# -- \S", prev) is not None
            inside_documented = any(doc for _, doc in stack)
            nxt = next((l for l in lines[i + 1:] if l.strip() and not l.strip().startswith("#")), "")
            is_group = line.rstrip().endswith(":") and len(nxt) - len(nxt.lstrip()) > indent
            if not (documented or inside_documented or is_group or m.group(2)):
                raise AssertionError(f"{path.name}:{i + 1}: no `# --` comment above `{m.group(3)}`")
            stack.append((indent, documented))
