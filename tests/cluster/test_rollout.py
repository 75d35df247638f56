"""A rolling update and a scale-down while bounded load goes through the NodePort, from a
client outside the node: without the chart's drain hook, and with it.

Without it (`drain.enabled=false`): the rollout completes, every request that is answered is a
correct 200 (no 5xx, no wrong body), and any request that fails, fails at the connection
(refused, reset, timeout) — the old pod stopping, never the app answering wrong. Zero failures
does not hold there: at SIGTERM the shim stops the app at once (it has no drain), while
kube-proxy still sends new connections to the old pod until it rewrites its rules, and SpinApp
v0.6.1 offers no preStop hook or termination setting to bridge that. How many fail is
measured by `make bench-cluster` (timing and chance belong there).

With it (the chart's default), nothing fails: its hook Job patches a preStop handler onto the
operator's Deployment, the old pod keeps serving while the endpoints change, and the handler
stays through every upgrade. On this 1.28 node the default `sleep` handler (Kubernetes >= 1.30)
is not there (the chart leaves the Job out); an `httpGet` handler on a server that answers
after the same delay stands in for it, given as `drain.preStop`: the kubelet waits for either
before the SIGTERM."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import node
import smoke
from kube import wait_for
from load import Load, good

RELEASE = "heart-disease-api"
DELAY_S = 5


def roll_and_scale_down(cluster, ns: str, app: str, values: dict) -> Load:
    """A new pod template on 3 replicas (every pod replaced), then 3 -> 1, under 20 POST
    /predict a second through the NodePort; the load with its outcomes."""
    url = smoke.node_port_url(cluster, values)
    smoke.wait_healthy(url)
    # No rule left to a pod that is gone (an earlier rollout's): kube-proxy syncs a moment
    # after the endpoints change.
    wait_for("kube-proxy to route only to the Ready pods", lambda: cluster.routed_pods() <= {
        p["status"]["podIP"] for p in cluster.ready_pods(ns, app)}, 30, cluster.routed_pods)
    cluster.forget_connections(node.CLIENT_IP)

    def change(new: dict, replicas: int) -> None:
        gen = cluster.get("deployment", "-n", ns, app)["metadata"]["generation"]
        smoke.install(cluster, RELEASE, ns, new)
        wait_for("the Deployment to change", lambda: cluster.get(
            "deployment", "-n", ns, app)["metadata"]["generation"] > gen, 60)
        gen = cluster.get("deployment", "-n", ns, app)["metadata"]["generation"]
        wait_for(f"{replicas} updated Ready pods and no other", lambda: cluster.rolled_out(
            ns, app, gen, replicas), 180, lambda: cluster.kubectl(
            "get", "pods,rs", "-n", ns, "-o", "wide", check=False))

    with Load(url, rate=20, limit=20 * 120, netns=cluster.client) as load:
        change(smoke.merge(values, {"podAnnotations": {"rollout": "2"}}), 3)
        change(smoke.merge(values, {"podAnnotations": {"rollout": "2"}, "replicaCount": 1}), 1)
        # The last old pods stop only after the rollout counts as done (their preStop delay).
        time.sleep(DELAY_S + 2)
    return load


def installed(cluster, namespace, image_values, drain: dict) -> tuple[str, str, dict]:
    """Three replicas installed with `drain` values, rolled out (the drain Job's patch rolls
    the pods once)."""
    ns = namespace()
    values = smoke.merge(image_values, {"autoscaling": {"enabled": False}, "replicaCount": 3,
                                        "drain": drain})
    app = smoke.app_of(smoke.install(cluster, RELEASE, ns, values))
    gen = cluster.get("deployment", "-n", ns, app)["metadata"]["generation"]
    wait_for("3 Ready pods of the latest template", lambda: cluster.rolled_out(ns, app, gen, 3), 180)
    return ns, app, values


def test_rollout_and_scale_down_without_the_drain_hook(cluster, namespace, image_values):
    ns, app, values = installed(cluster, namespace, image_values, {"enabled": False})
    assert smoke.pre_stop(cluster, ns, app) is None
    load = roll_and_scale_down(cluster, ns, app, values)
    summary = load.summary()
    print(f"without the drain hook, rolling update 3 -> 3 and scale-down 3 -> 1 at 20 req/s: {summary}")
    assert len(load.outcomes) >= 100, summary
    answered_wrong = [o for o in load.answered() if not good(o)]
    assert answered_wrong == [], [(o.status, o.body[:200]) for o in answered_wrong]
    assert all(o.error in ("refused", "reset", "timeout") for o in load.failed()), summary


class _AnswerLate(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 — the http.server interface
        time.sleep(DELAY_S)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def late_answer() -> Iterator[dict]:
    """An `httpGet` preStop handler the kubelet waits DELAY_S seconds on (a server on the
    node's address), as it would on `{"sleep": {"seconds": DELAY_S}}`."""
    server = ThreadingHTTPServer((node.NODE_IP, 0), _AnswerLate)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield {"httpGet": {"host": node.NODE_IP, "port": server.server_address[1], "path": "/"}}
    finally:
        server.shutdown()
        server.server_close()


def test_with_the_drain_hook_no_request_fails(cluster, namespace, image_values):
    with late_answer() as handler:
        def patched() -> bool:  # the API server adds defaults (scheme: HTTP)
            got = smoke.pre_stop(cluster, ns, app) or {}
            return got.get("httpGet", {}).items() >= handler["httpGet"].items()

        ns, app, values = installed(cluster, namespace, image_values, {"preStop": handler})
        assert patched(), smoke.pre_stop(cluster, ns, app)
        # The hook's Job, its pod and its RBAC are gone once it succeeded.
        left = cluster.kubectl("get", "jobs,pods,roles,rolebindings,serviceaccounts", "-n", ns, "-o", "name")
        assert "-drain" not in left, left
        load = roll_and_scale_down(cluster, ns, app, values)
        # Two upgrades later (each ran the hook again), the handler is still there.
        assert patched(), smoke.pre_stop(cluster, ns, app)
    summary = load.summary()
    print(f"with the drain hook ({DELAY_S} s), rolling update and scale-down at 20 req/s: {summary}")
    assert len(load.outcomes) >= 100, summary
    assert load.failed() == [], summary
