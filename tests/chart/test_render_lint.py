"""Render with real Helm and lint strictly, on every value set."""

from __future__ import annotations

import pytest

from conftest import KUBE_VERSIONS, VALUE_SETS, by_kind, load_values, lint, notes, one

# Every value set has the `helm test` Pod (templates/tests/).
DRAIN = {"Job", "Role", "RoleBinding"}  # with a second ServiceAccount: the drain hook's
EXPECTED_KINDS = {
    "default": {"SpinApp", "Service", "HorizontalPodAutoscaler", "ServiceAccount", "Pod"} | DRAIN,
    "dev": {"SpinApp", "Service", "ServiceAccount", "Pod"} | DRAIN,
    "prod": {"SpinApp", "Service", "HorizontalPodAutoscaler", "ServiceAccount",
             "PodDisruptionBudget", "NetworkPolicy", "Pod"} | DRAIN,
    "all-on": {"SpinApp", "Service", "HorizontalPodAutoscaler", "ServiceAccount",
               "PodDisruptionBudget", "NetworkPolicy", "Ingress", "ConfigMap",
               "SpinAppExecutor", "Deployment", "ServiceMonitor", "PrometheusRule", "Pod"} | DRAIN,
}


def test_renders_expected_objects(value_set, rendered):
    kinds = [o["kind"] for o in rendered]
    assert set(kinds) == EXPECTED_KINDS[value_set]
    names = [(o["kind"], o["metadata"]["name"]) for o in rendered]
    assert len(names) == len(set(names)), f"duplicate objects: {names}"
    # Only the monitoring parts add a second object of a kind (the collector's ConfigMap,
    # Service and NetworkPolicy, the dashboard ConfigMap), and the drain hook its ServiceAccount.
    app = [k for k, n in names if not n.endswith(("-otel-collector", "-dashboard", "-drain"))]
    assert len(app) == len(set(app)), f"duplicate kinds: {app}"
    for obj in rendered:
        meta = obj["metadata"]
        # the dashboard may go to Grafana's namespace (monitoring.dashboard.namespace)
        assert meta["namespace"] == ("monitoring" if meta["name"].endswith("-dashboard") else "heart-disease")
        assert meta["labels"]["app.kubernetes.io/instance"] == "heart-disease-api"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_all_on_file_turns_every_template_on():
    """Every template file except the helpers renders at least one object with all-on."""
    from conftest import CHART, render_files

    files = render_files(load_values("all-on"))
    templates = {p.name for p in (CHART / "templates").iterdir() if p.suffix in (".yaml", ".txt")}
    non_empty = {path.rsplit("/", 1)[-1] for path, text in files.items()
                 if any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())}
    assert templates <= non_empty, f"templates that rendered nothing: {templates - non_empty}"


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_lint_strict_no_warnings(name, kube_version):
    messages = lint(load_values(name), kube_version)
    problems = [m for m in messages if m["severity"] >= 2]
    assert problems == [], problems
    # Only the INFO about a missing chart icon is accepted (no icon is published).
    assert all(m["error"] == "icon is recommended" for m in messages), messages


def test_lint_catches_a_broken_value():
    """Lint is not a no-op: a schema violation is reported as an error."""
    messages = lint({"replicaCount": "two"}, KUBE_VERSIONS[0])
    assert any(m["severity"] == 3 and "replicaCount" in m["error"] for m in messages), messages


def test_notes_tell_how_to_reach_the_app():
    text = notes({})
    assert 'export APP_URL="http://$(minikube ip):30080"' in text
    assert "curl -fsS -X POST \"$APP_URL/predict\"" in text
    assert "rollout status deployment/heart-disease-api" in text
    assert "make smoke" in text


def test_notes_tell_how_to_remove_the_executor_hook():
    """helm uninstall leaves hooks behind: the NOTES say so when the chart owns the executor."""
    assert "spinappexecutor" not in notes({})
    text = notes({"executor": {"create": True}, "otel": {"enabled": True}})
    assert "kubectl -n heart-disease delete spinappexecutor heart-disease-api" in text
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in text


def test_notes_follow_service_type():
    text = notes({"service": {"type": "ClusterIP"}})
    assert "port-forward svc/heart-disease-api-http 8080:80" in text
    assert "30080" not in text


def test_release_name_is_used_in_names():
    from conftest import render

    objs = render({}, release="demo")
    assert one(objs, "SpinApp")["metadata"]["name"] == "demo-heart-disease-api"
    assert one(objs, "Service")["metadata"]["name"] == "demo-heart-disease-api-http"
    assert by_kind(objs, "HorizontalPodAutoscaler")[0]["spec"]["scaleTargetRef"]["name"] == "demo-heart-disease-api"
