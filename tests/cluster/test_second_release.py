"""Two releases in one cluster. A node port is cluster-wide: a second release asking for the
one the first holds fails before anything is created, saying which Service holds it and what
to set; with a port of its own it installs cleanly and both serve."""

from __future__ import annotations

import pytest

import smoke

RELEASE = "heart-disease-api"


def test_second_release(cluster, namespace, image_values):
    first, second = namespace(), namespace()
    values = smoke.merge(image_values, {"autoscaling": {"enabled": False}, "replicaCount": 1})
    app = smoke.app_of(smoke.install(cluster, RELEASE, first, values))
    cluster.wait_ready(first, app, 1)

    with pytest.raises(Exception) as refused:
        smoke.install(cluster, RELEASE, second, values)
    message = str(refused.value)
    assert "service.nodePort 30080 is already taken by Service" in message, message
    assert f"{first}/{RELEASE}-http" in message, message
    left = cluster.kubectl("get", "spinapps,spinappexecutors,deployments,services,serviceaccounts,"
                           "hpa,configmaps", "-n", second, "-o", "name")
    # Only what every namespace has (the default ServiceAccount, kube-root-ca.crt) and the
    # executor the test put there.
    assert sorted(left.split()) == ["configmap/kube-root-ca.crt",
                                    "serviceaccount/default",
                                    "spinappexecutor.core.spinkube.dev/containerd-shim-spin"], left
    assert not list(cluster.helm(second).list(all_states=True)), "a failed install left a release record"

    other = smoke.merge(values, {"service": {"nodePort": 30081}})
    app2 = smoke.app_of(smoke.install(cluster, RELEASE, second, other))
    cluster.wait_ready(second, app2, 1)
    for values_of in (values, other):
        url = smoke.node_port_url(cluster, values_of)
        smoke.wait_healthy(url)
