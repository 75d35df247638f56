"""Pod Security admission, the API server's own: the pods the spin-operator creates carry no
securityContext (SpinApp v0.6.1 has no field for one), so they meet `baseline` and never
`restricted`. The chart installs and serves at baseline; at restricted it refuses to install,
saying why, where otherwise Helm would report "deployed" while admission refuses every pod."""

from __future__ import annotations

import pytest

import node
import smoke
from kube import wait_for

RELEASE = "heart-disease-api"
ENFORCE = "pod-security.kubernetes.io/enforce"


def test_baseline_serves(cluster, namespace, image_values):
    ns = namespace(labels={ENFORCE: "baseline"})
    values = smoke.merge(image_values, {"autoscaling": {"enabled": False}, "replicaCount": 1})
    seen = smoke.smoke(cluster, RELEASE, ns, values, say=lambda _: None)
    assert seen["restarts"] == 0


def test_restricted_refused_by_the_chart(cluster, namespace, image_values):
    ns = namespace(labels={ENFORCE: "restricted"})
    with pytest.raises(Exception) as refused:
        smoke.install(cluster, RELEASE, ns, image_values)
    assert f'namespace {ns} enforces Pod Security "restricted"' in str(refused.value)
    assert cluster.kubectl("get", "spinapps,deployments,services", "-n", ns, "-o", "name") == ""


def test_restricted_refuses_the_operators_pods(cluster, namespace, pushed):
    """Why the chart refuses: a SpinApp applied directly gets its Deployment, and admission
    refuses every pod of it."""
    ns = namespace(labels={ENFORCE: "restricted"})
    cluster.apply([{"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp",
                    "metadata": {"name": "app", "namespace": ns},
                    "spec": {"image": pushed, "executor": node.EXECUTOR, "replicas": 1}}])

    def refused() -> str | None:
        events = cluster.get("events", "-n", ns, "--field-selector", "reason=FailedCreate")["items"]
        return next((e["message"] for e in events if "violates PodSecurity" in e["message"]), None)

    message = wait_for("the ReplicaSet's FailedCreate event", refused, 60)
    assert '"restricted:latest"' in message, message
    assert cluster.pods(ns, "app") == []
