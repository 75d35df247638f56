"""A rolling update and a scale-down while bounded load goes through the NodePort: as the
chart installs it, and with the preStop delay README.md's "Rolling updates" adds.

As installed: the rollout completes, every request that is answered is a correct 200 (no
5xx, no wrong body), and any request that fails, fails at the connection (refused, reset,
timeout) — the old pod stopping, never the app answering wrong. Zero failures does not hold
there: at SIGTERM the shim stops the app at once (it has no drain), while kube-proxy still
sends new connections to the old pod until it rewrites its rules, and SpinApp v0.6.1 offers no
preStop hook or termination setting to bridge that. How many fail is measured by `make
bench-cluster` (timing and chance belong there).

With a preStop delay patched onto the operator's Deployment by a field manager of its own,
nothing fails: the old pod keeps serving while the endpoints change, and the delay survives
every upgrade (the operator's server-side apply leaves fields it does not own). On this 1.28
node the `sleep` handler (Kubernetes >= 1.30) is not there; an `httpGet` handler on a server
that answers after the same delay stands in for it: the kubelet waits for either before the
SIGTERM."""

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


def installed(cluster, namespace, image_values) -> tuple[str, str, dict]:
    ns = namespace()
    values = smoke.merge(image_values, {"autoscaling": {"enabled": False}, "replicaCount": 3})
    app = smoke.app_of(smoke.install(cluster, RELEASE, ns, values))
    cluster.wait_ready(ns, app, 3)
    return ns, app, values


def test_rollout_and_scale_down_under_load(cluster, namespace, image_values):
    ns, app, values = installed(cluster, namespace, image_values)
    load = roll_and_scale_down(cluster, ns, app, values)
    summary = load.summary()
    print(f"rolling update 3 -> 3 and scale-down 3 -> 1 at 20 req/s: {summary}")
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


def test_with_a_pre_stop_delay_no_request_fails(cluster, namespace, image_values):
    ns, app, values = installed(cluster, namespace, image_values)
    with late_answer() as handler:
        gen = cluster.get("deployment", "-n", ns, app)["metadata"]["generation"]
        smoke.add_pre_stop(cluster, RELEASE, ns, values, handler)
        wait_for("the patched pods", lambda: cluster.rolled_out(ns, app, gen + 1, 3), 180)
        load = roll_and_scale_down(cluster, ns, app, values)
        # Two upgrades later, the operator's apply has left the delay in place.
        kept = smoke.pre_stop(cluster, ns, app) or {}
        assert kept.get("httpGet", {}).items() >= handler["httpGet"].items(), kept
    summary = load.summary()
    print(f"with a {DELAY_S} s preStop delay, rolling update and scale-down at 20 req/s: {summary}")
    assert len(load.outcomes) >= 100, summary
    assert load.failed() == [], summary
