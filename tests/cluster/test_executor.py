"""The chart's own SpinAppExecutor (executor.create) on a namespace that has none: created
before the SpinApp (the spin-operator's webhook refuses a SpinApp whose executor is missing),
changed by an upgrade, restored by `helm rollback`, and nothing stuck on the operator's
finalizers after uninstall."""

from __future__ import annotations

import smoke
from kube import Watch, wait_for

RELEASE = "heart-disease-api"
GROUP = "/apis/core.spinkube.dev/v1alpha1/namespaces/{ns}/{kind}"


def otel_values(ns: str, collector: str) -> dict:
    # An endpoint inside the test's namespace that nothing serves: the cluster DNS answers
    # NXDOMAIN and the pods' exports fail quietly; nothing outside is ever contacted.
    return {"executor": {"create": True},
            "otel": {"enabled": True, "endpoint": f"http://{collector}.{ns}.svc.cluster.local:4318"}}


def otel_endpoint(cluster, ns: str, app: str) -> str | None:
    deploy = cluster.get("deployment", "-n", ns, app)
    env = deploy["spec"]["template"]["spec"]["containers"][0].get("env", [])
    return next((e["value"] for e in env if e["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT"), None)


def test_executor_lifecycle(cluster, namespace, image_values):
    ns = namespace(executor=False)
    first = smoke.merge(image_values, otel_values(ns, "collector-a"))
    second = smoke.merge(image_values, otel_values(ns, "collector-b"))
    helm = cluster.helm(ns)

    with Watch(cluster, GROUP.format(ns=ns, kind="spinappexecutors")) as executors, \
            Watch(cluster, GROUP.format(ns=ns, kind="spinapps")) as apps:
        rel = smoke.install(cluster, RELEASE, ns, first)
        app = smoke.app_of(rel)
        wait_for("both ADDED events", lambda: app in executors.added() and app in apps.added(), 30)
    assert executors.added()[app] < apps.added()[app], \
        f"the SpinApp was created before its executor: {executors.events} {apps.events}"

    want = lambda c: f"http://{c}.{ns}.svc.cluster.local:4318"  # noqa: E731
    wait_for("the first collector in the Deployment",
             lambda: otel_endpoint(cluster, ns, app) == want("collector-a"), 60)
    cluster.wait_ready(ns, app, smoke.expected_replicas(first))

    smoke.install(cluster, RELEASE, ns, second)  # an upgrade: the release exists
    wait_for("the upgrade's collector in the Deployment",
             lambda: otel_endpoint(cluster, ns, app) == want("collector-b"), 60)

    helm.rollback(RELEASE, version=1, timeout=120)
    executor = cluster.get("spinappexecutor", "-n", ns, app)
    assert executor["spec"]["deploymentConfig"]["otel"]["exporter_otlp_endpoint"] == want("collector-a")
    wait_for("the rolled-back collector in the Deployment",
             lambda: otel_endpoint(cluster, ns, app) == want("collector-a"), 60)
    cluster.wait_ready(ns, app, smoke.expected_replicas(first))

    smoke.uninstall(cluster, RELEASE, ns, app)
    assert "NotFound" in cluster.kubectl("get", "spinapp", "-n", ns, app, check=False)
    # The executor is a hook, which uninstall leaves (README says so); with no SpinApp naming
    # it, the operator lets it go: deleting it must finish, not hang on its finalizer.
    cluster.kubectl("delete", "spinappexecutor", "-n", ns, app, "--timeout=60s")
