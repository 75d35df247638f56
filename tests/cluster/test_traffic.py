"""Steady load from a client outside the node (netns.py's second namespace, as a user's machine
is to Minikube) through NodePort 30080, no pod starting or stopping.

Masqueraded (`externalTrafficPolicy: Cluster`), the client's connections reach the pods from the
node's bridge address, the one the kubelet's probes come from. Both use TCP timestamps, each
from its own random base, and the pods hold every probe connection in TIME_WAIT (the probe
asks them to close); a client SYN that kube-proxy maps onto such a connection's address and
port is dropped as an old duplicate (PAWS) until that TIME_WAIT ends, and its request stalls
1 s or times out. With the chart's `Local` the pods see the client's own address, and no SYN
can meet the probes' connections (README, "Steady load")."""

from __future__ import annotations

import node
import smoke
from load import Load

RELEASE = "heart-disease-api"
RATE = 100


def send(cluster, url: str, seconds: int) -> tuple[Load, int, int]:
    """`seconds` of load from the outside client; with the SYNs the pods rejected as old
    duplicates (PAWS, at a TIME_WAIT connection) and the client's SYN retransmissions."""
    rejected = cluster.pods_tcp_counter("TcpExtPAWSTimewait")
    resent = node.tcp_counter("TcpExtTCPSynRetrans", cluster.client)
    with Load(url, rate=RATE, limit=RATE * seconds, netns=cluster.client) as load:
        load.wait()
    return (load, cluster.pods_tcp_counter("TcpExtPAWSTimewait") - rejected,
            node.tcp_counter("TcpExtTCPSynRetrans", cluster.client) - resent)


def test_steady_load_from_outside_the_node(cluster, namespace, image_values):
    ns = namespace()
    values = smoke.merge(image_values, {"autoscaling": {"enabled": False}, "replicaCount": 2})
    app = smoke.app_of(smoke.install(cluster, RELEASE, ns, values))
    cluster.wait_ready(ns, app, 2)
    url = smoke.node_port_url(cluster, values)
    port = int(url.rsplit(":", 1)[1])
    smoke.wait_healthy(url)

    # The chart's default: the pods see the client's own address, and reject none of its SYNs
    # (nor any probe's: no connection from the bridge address carries the client's timestamps).
    services = cluster.get("service", "-n", ns, "-l", f"app.kubernetes.io/instance={RELEASE}")
    assert [s["spec"].get("externalTrafficPolicy") for s in services["items"]] == ["Local"], services
    cluster.seen_from(node.CLIENT_IP, port)
    load, rejected, resent = send(cluster, url, 60)
    seen = cluster.seen_from(node.CLIENT_IP, port)
    print(f"\nLocal: {load.summary()}; SYNs rejected by the pods (PAWS): {rejected},"
          f" resent by the client: {resent}; the pods saw the client as {sorted(seen)}")
    assert seen == {node.CLIENT_IP}, seen
    assert (rejected, resent) == (0, 0)
    assert load.failed() == [], load.summary()

    # Masqueraded, as `Cluster` does: the drops are by chance, so counted, not asserted.
    smoke.install(cluster, RELEASE, ns, smoke.merge(values, {"service": {"externalTrafficPolicy": "Cluster"}}))
    load, rejected, resent = send(cluster, url, 60)
    seen = cluster.seen_from(node.CLIENT_IP, port)
    print(f"Cluster: {load.summary()}; SYNs rejected by the pods (PAWS): {rejected},"
          f" resent by the client: {resent}; the pods saw the client as {sorted(seen)}")
    assert seen and node.CLIENT_IP not in seen, seen
