"""Replicas on the real node: fifty started at once all become Ready with no restart, and the
HPA scales out under bounded load and back in after it, on the metric the node reports."""

from __future__ import annotations

import smoke
from kube import restarts, wait_for
from load import Load

RELEASE = "heart-disease-api"


def test_fifty_at_once(cluster, namespace, image_values):
    """The first replica on a node precompiles the module into containerd's content store;
    the fifty then start together from it. (Started together on a node that has not run the
    image yet, the shim's precompile races with itself: README, 'Fifty pods at once'.)"""
    ns = namespace()
    one = smoke.merge(image_values, {"autoscaling": {"enabled": False}, "replicaCount": 1})
    app = smoke.app_of(smoke.install(cluster, RELEASE, ns, one))
    cluster.wait_ready(ns, app, 1)

    smoke.install(cluster, RELEASE, ns, smoke.merge(one, {"replicaCount": 50}))
    pods = cluster.wait_ready(ns, app, 50, timeout=600)
    assert restarts(pods) == 0, [(p["metadata"]["name"], p["status"]["containerStatuses"])
                                 for p in pods if restarts([p])]
    smoke.wait_healthy(smoke.node_port_url(cluster, one))


def test_hpa_out_under_load_and_back(cluster, namespace, image_values):
    ns = namespace()
    values = smoke.merge(image_values, {"autoscaling": {
        "enabled": True, "minReplicas": 2, "maxReplicas": 6,
        # A target the bounded load below crosses: ~200 µs of CPU per request, 100 req/s
        # is ~20 millicores, 10 % of two pods' 100m requests.
        "targetCPUUtilizationPercentage": 5}})
    app = smoke.app_of(smoke.install(cluster, RELEASE, ns, values))
    cluster.wait_ready(ns, app, 2)
    url = smoke.node_port_url(cluster, values)
    smoke.wait_healthy(url)

    def replicas() -> int:
        return cluster.get("hpa", "-n", ns, app).get("status", {}).get("desiredReplicas", 0)

    def hpa_state() -> str:
        return cluster.kubectl("describe", "hpa", "-n", ns, app, check=False)

    with Load(url, rate=100, limit=100 * 240) as load:
        wait_for("the HPA to scale out", lambda: replicas() > 2, 180, hpa_state)
        wait_for("the new pods to be Ready", lambda: len(cluster.ready_pods(ns, app)) > 2, 120, hpa_state)
    assert load.failed() == [], load.summary()
    wait_for("the HPA to scale back to 2", lambda: replicas() == 2, 180, hpa_state)
    cluster.wait_ready(ns, app, 2, timeout=120)
