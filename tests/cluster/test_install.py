"""The chart installed by Helm on the real cluster with each value set a user starts from:
the SpinApp passes the API server's strict schema check, the operator's Deployment carries the
chart's replicas, resources and probes, the pods become Ready, the API suite passes through
NodePort 30080 and through the Service, `helm test` passes, and uninstall leaves nothing."""

from __future__ import annotations

import json
import urllib.request

import pytest
import yaml

import smoke
from kube import resources, restarts

RELEASE = "heart-disease-api"


def spinapp_of(release: dict) -> dict:
    return next(d for d in yaml.safe_load_all(release["manifest"]) if d and d["kind"] == "SpinApp")


@pytest.mark.parametrize("value_set", ["default", "dev", "prod"])
def test_values_install(cluster, namespace, image_values, value_set):
    ns = namespace()
    values = smoke.merge(smoke.values_for(value_set), image_values)
    seen = smoke.smoke(cluster, RELEASE, ns, values, keep=True, say=lambda _: None)
    app = seen["app"]
    rel = cluster.helm(ns).status(RELEASE)

    # The API server's own strict check of what Helm applied: an unknown or mistyped field in
    # the SpinApp is refused, not pruned.
    cluster.kubectl("apply", "--server-side", "--dry-run=server", "--validate=strict",
                    "--field-manager=heart-strict", "-f", "-", input=json.dumps(spinapp_of(rel)))

    merged = smoke.merge(yaml.safe_load((smoke.CHART / "values.yaml").read_text()), values)
    deploy = cluster.get("deployment", "-n", ns, app)
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    if not merged["autoscaling"]["enabled"]:
        assert deploy["spec"]["replicas"] == merged["replicaCount"]
    else:
        hpa = cluster.get("hpa", "-n", ns, app)
        assert hpa["spec"]["minReplicas"] == merged["autoscaling"]["minReplicas"]
        assert hpa["spec"]["maxReplicas"] == merged["autoscaling"]["maxReplicas"]
    assert resources(container["resources"]) == resources(merged["resources"])
    for probe in ("readiness", "liveness"):
        got = container[f"{probe}Probe"]
        want = merged["checks"][probe]
        assert got["httpGet"]["path"] == want["path"]
        for k in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"):
            assert got.get(k, 0) == want[k], (probe, k)
    assert deploy["spec"]["template"]["spec"]["runtimeClassName"] == "wasmtime-spin-v2"

    # Through the Service's cluster IP as well as the NodePort.
    svc = cluster.get("service", "-n", ns, f"{app}-http")
    assert svc["spec"]["type"] == merged["service"]["type"]
    if merged["service"]["type"] == "NodePort":
        assert svc["spec"]["ports"][0]["nodePort"] == merged["service"]["nodePort"]
    service_url = f"http://{svc['spec']['clusterIP']}:{merged['service']['port']}"
    with urllib.request.urlopen(f"{service_url}/health", timeout=10) as r:
        assert r.status == 200
    if value_set == "default":
        smoke.api_suite(service_url)

    assert restarts(cluster.pods(ns, app)) == 0
    smoke.uninstall(cluster, RELEASE, ns, app)
    left = cluster.kubectl("get", "spinapps,deployments,services,hpa,pods", "-n", ns, "-o", "name")
    assert left.strip() == "", left
