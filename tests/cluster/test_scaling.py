"""Replicas on the real node: fifty started at once all become Ready and serve (restarted only
by the shim's precompile race); what an HPA can see of the pods on this node's cgroups; and,
on a cgroup v2 node, the HPA scaling out under bounded load and back in after it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import node
import smoke
from kube import restarts, wait_for
from load import Load, good

RELEASE = "heart-disease-api"


def test_fifty_at_once(cluster, namespace, image_values):
    """Fifty replicas created together all become Ready and serve through the NodePort.

    Not with zero restarts: containerd-shim-spin goes through its precompile step at every
    start (its lookup of the Spin config layer, which is never compiled, always misses) and
    saves under a containerd lease named only by the cache key, so starts at the same time
    collide and the loser exits 137 (README, 'Many pods at once', has the upstream report). So the check is that every restart is that
    race — the container's last exit 137 right after the shim's "Failed to read Spin app
    manifest from /spin.toml" — and nothing else."""
    ns = namespace()
    # 50 x 20m of CPU requested fits the node's 2 cores; the default 100m fits 20 pods.
    values = smoke.merge(image_values, {"autoscaling": {"enabled": False}, "replicaCount": 50,
                                        "resources": {"requests": {"cpu": "20m"}}})
    app = smoke.app_of(smoke.install(cluster, RELEASE, ns, values))
    pods = cluster.wait_ready(ns, app, 50, timeout=600)
    log = (cluster.logs / "containerd.log").read_text(errors="replace")
    raced = [line for line in log.splitlines() if "Failed to read Spin app manifest from" in line]
    for p in pods:
        for status in p["status"]["containerStatuses"]:
            last = status.get("lastState", {}).get("terminated")
            if status["restartCount"] == 0:
                continue
            assert last["exitCode"] == 137, (p["metadata"]["name"], last)
            container = last["containerID"].split("://")[-1]
            assert any(container in line for line in raced), \
                f"{p['metadata']['name']} restarted without the precompile race: {last}"
    print(f"50 at once: {restarts(pods)} restarts, all from the precompile race")
    smoke.wait_healthy(smoke.node_port_url(cluster, values))


def cgroup_v2() -> bool:
    return Path("/sys/fs/cgroup/cgroup.controllers").exists()


def kubelet_resource_metrics(cluster, ns: str) -> dict[tuple[str, str], float]:
    """The kubelet's /metrics/resource (what metrics-server scrapes) for the pods of `ns`:
    {(metric, pod): value}."""
    out = {}
    for line in cluster.kubectl("get", "--raw", f"/api/v1/nodes/{node.NODE}/proxy/metrics/resource").splitlines():
        m = re.match(r'^(\w+)\{[^}]*namespace="([^"]+)",pod="([^"]+)"[^}]*\} (\S+)', line)
        if m and m.group(2) == ns:
            out[(m.group(1), m.group(3))] = float(m.group(4))
    return out


def test_what_the_hpa_sees_on_this_node(cluster, namespace, image_values):
    """The metrics an HPA reads, as this node reports them under load. On cgroup v2 the
    container's CPU is counted and metrics-server serves the pods' usage. On cgroup v1 (these
    machines) containerd-shim-spin reports the container's CPU as 0 while the pod's cgroup
    counts it; metrics-server v0.7 drops a container whose CPU reads 0, so the pods get no
    metrics at all — neither CPU nor memory — and the HPA cannot act (README, 'Autoscaling')."""
    ns = namespace()
    values = smoke.merge(image_values, {"autoscaling": {"enabled": True, "minReplicas": 2}})
    app = smoke.app_of(smoke.install(cluster, RELEASE, ns, values))
    pods = [p["metadata"]["name"] for p in cluster.wait_ready(ns, app, 2)]
    url = smoke.node_port_url(cluster, values)
    smoke.wait_healthy(url)
    # The load only makes CPU for the metrics below; whether every request got through is
    # the rollout check's concern (here a few in 2000 failed in some runs: README notes it).
    with Load(url, rate=100, limit=100 * 20) as load:
        load.wait()
    assert load.answered() and all(good(o) for o in load.answered()), load.summary()
    seen = kubelet_resource_metrics(cluster, ns)
    for pod in pods:
        assert seen[("pod_cpu_usage_seconds_total", pod)] > 0, seen
        assert seen[("container_memory_working_set_bytes", pod)] > 0, seen
        container_cpu = seen[("container_cpu_usage_seconds_total", pod)]
        assert (container_cpu > 0) if cgroup_v2() else (container_cpu == 0), seen

    # Two of metrics-server's 15 s scrapes later: what the metrics API serves the HPA.
    def served() -> list[dict] | None:
        hpa = cluster.get("hpa", "-n", ns, app)
        active = next((c for c in hpa.get("status", {}).get("conditions", [])
                       if c["type"] == "ScalingActive"), None)
        return [hpa] if active else None

    hpa = wait_for("the HPA's first verdict", served, 90)[0]
    items = json.loads(cluster.kubectl(
        "get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods"))["items"]
    active = next(c for c in hpa["status"]["conditions"] if c["type"] == "ScalingActive")
    if cgroup_v2():
        assert {i["metadata"]["name"] for i in items} >= set(pods), items
        assert active["status"] == "True", active
    else:
        assert items == [], items
        assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric"), active


@pytest.mark.skipif(not cgroup_v2(), reason="not run: the node's cgroups are v1, where containerd-shim-spin"
                    " reports a container's CPU as 0 and metrics-server serves no metrics for its pods"
                    " (test_what_the_hpa_sees_on_this_node shows it); the HPA needs a cgroup v2 node")
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
