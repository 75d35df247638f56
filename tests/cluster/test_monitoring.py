"""monitoring.enabled on a cluster with the upstream prometheus-operator CRDs (from
../shared/upstream/, as kube-prometheus-stack installs them): the API server accepts the
ServiceMonitor, the PrometheusRule and the dashboard's ConfigMap under its strict field
validation, and the app still serves with its OTLP export pointed at the release's collector.
(The collector's own image is not in this cluster's registry, so its pod does not start: what
it does with the data is tests/otel's concern.)"""

from __future__ import annotations

import json

import yaml

import smoke

RELEASE = "heart-disease-api"


def test_monitoring_objects_accepted(cluster, namespace, image_values):
    ns = namespace(executor=False)
    values = smoke.merge(image_values, {"executor": {"create": True}, "monitoring": {"enabled": True},
                                        "autoscaling": {"enabled": False}, "replicaCount": 1})
    rel = smoke.install(cluster, RELEASE, ns, values)
    docs = [d for d in yaml.safe_load_all(rel["manifest"]) if d]
    kinds = {d["kind"] for d in docs}
    assert {"ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds, kinds

    for doc in docs:
        cluster.kubectl("apply", "--server-side", "--dry-run=server", "--validate=strict",
                        "--field-manager=heart-strict", "-n", ns, "-f", "-", input=json.dumps(doc))
    monitor = cluster.get("servicemonitor", "-n", ns)["items"]
    rules = cluster.get("prometheusrule", "-n", ns)["items"]
    assert len(monitor) == 1 and len(rules) == 1
    groups = rules[0]["spec"]["groups"]
    assert groups and all(g["rules"] for g in groups)
    dashboards = cluster.get("configmap", "-A", "-l", "grafana_dashboard=1")["items"]
    assert any(json.loads(v) for d in dashboards for v in d["data"].values())

    app = smoke.app_of(rel)
    cluster.wait_ready(ns, app, 1)
    url = smoke.node_port_url(cluster, values)
    smoke.wait_healthy(url)
