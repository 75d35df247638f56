"""Wrong types and out-of-range values fail to render, with a message naming the value."""

from __future__ import annotations

import pytest

from conftest import RenderError, render


@pytest.mark.parametrize("values, message", [
    ({"replicaCount": "two"}, "/replicaCount': got string, want integer"),
    ({"replicaCount": 0}, "/replicaCount': minimum: got 0, want 1"),
    ({"service": {"nodePort": 29999}}, "/service/nodePort': minimum: got 29,999, want 30,000"),
    ({"service": {"nodePort": 32768}}, "/service/nodePort': maximum: got 32,768, want 32,767"),
    ({"service": {"nodePort": "30080"}}, "/service/nodePort': got string, want integer"),
    ({"service": {"type": "ExternalName"}}, "/service/type'"),
    ({"service": {"externalTrafficPolicy": "local"}}, "/service/externalTrafficPolicy'"),
    ({"autoscaling": {"targetCPUUtilizationPercentage": 0}}, "/autoscaling/targetCPUUtilizationPercentage': minimum"),
    ({"autoscaling": {"targetCPUUtilizationPercentage": 101}}, "/autoscaling/targetCPUUtilizationPercentage': maximum"),
    ({"autoscaling": {"targetMemoryUtilizationPercentage": 150}}, "/autoscaling/targetMemoryUtilizationPercentage': maximum"),
    ({"autoscaling": {"enabled": "yes"}}, "/autoscaling/enabled': got string, want boolean"),
    ({"autoscaling": {"minReplicas": 0}}, "/autoscaling/minReplicas': minimum"),
    ({"resources": {"limits": {"cpu": "lots", "memory": "1Gi"}}}, "/resources/limits/cpu'"),
    ({"checks": {"readiness": {"path": "health"}}}, "/checks/readiness/path'"),
    ({"image": {"digest": "sha256:abc"}}, "/image/digest'"),
    ({"replicas": 2}, "additional properties 'replicas' not allowed"),
    ({"service": {"nodeport": 30080}}, "additional properties 'nodeport' not allowed"),
    # removed options (issue #11) are refused, not silently ignored
    ({"spinVariables": {"enabled": False}}, "additional properties 'spinVariables' not allowed"),
    ({"runtimeConfig": {"enabled": False}}, "additional properties 'runtimeConfig' not allowed"),
    # cross-value checks in _helpers.tpl
    ({"autoscaling": {"minReplicas": 5, "maxReplicas": 3}},
     "autoscaling.minReplicas (5) must not exceed autoscaling.maxReplicas (3)"),
    ({"otel": {"enabled": True}}, "otel.enabled needs executor.create=true"),
    ({"podDisruptionBudget": {"enabled": True, "minAvailable": 2}},
     "podDisruptionBudget.minAvailable (2) must be lower than the smallest replica count (2)"),
])
def test_bad_values_fail_with_clear_message(values, message):
    with pytest.raises(RenderError) as err:
        render(values)
    assert message in str(err.value)


def test_good_edge_values_render():
    """The limits themselves are accepted (so the checks above are about the range)."""
    for values in ({"service": {"nodePort": 30000}}, {"service": {"nodePort": 32767}},
                   {"autoscaling": {"targetCPUUtilizationPercentage": 100}},
                   {"podDisruptionBudget": {"enabled": True, "minAvailable": "50%"}},
                   {"autoscaling": {"enabled": False}, "replicaCount": 3,
                    "podDisruptionBudget": {"enabled": True, "minAvailable": 2}}):
        assert render(values)
