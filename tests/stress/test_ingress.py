"""Slow clients behind the chart's Ingress: a real nginx, configured the way the chart's
default ingress-nginx annotations configure ingress-nginx, in front of the real Spin.

Without a buffering proxy, a few hundred connections that send their headers and a few body
bytes and then stall hold as many component instances, and once the runtime's limit is
reached (Spin: SPIN_MAX_INSTANCE_COUNT, 1000) everyone else gets 500. With the chart's
defaults the proxy reads each body whole before it opens a connection to the app, so 3000
stalled bodies cost the app nothing: other clients are answered, and the app's log shows only
their requests. (How fast they are answered is a benchmark's business, not this test's.)
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

import runtimes
from fixtures import example_json
from runtimes import REPO

CHART = REPO / "helm" / "heart-disease-api"
TEMPLATE = Path(__file__).with_name("ingress-nginx.conf")
STALLED = 3000
# Other clients' requests while the stalled bodies hang, of each kind.
ANSWERED = 20
PATIENT = example_json().encode()
# The annotations the test reads, with the nginx.conf placeholder each fills.
ANNOTATIONS = {
    "proxy-body-size": "proxy_body_size",
    "client-body-buffer-size": "client_body_buffer_size",
    "proxy-request-buffering": "proxy_request_buffering",
    "proxy-connect-timeout": "proxy_connect_timeout",
    "proxy-send-timeout": "proxy_send_timeout",
    "proxy-read-timeout": "proxy_read_timeout",
}
PREFIX = "nginx.ingress.kubernetes.io/"


def chart_ingress_annotations() -> dict[str, str]:
    """The Ingress annotations of the chart's defaults (ingress switched on), as Helm renders them."""
    import helm_python as helm
    import yaml

    with helm.Chart.load(CHART) as chart:
        files = chart.render(values={"ingress": {"enabled": True}}, name="heart-disease-api",
                             namespace="default", is_install=True)
    for path, text in files.items():
        for doc in yaml.safe_load_all(text) if path.endswith(".yaml") else []:
            if doc and doc.get("kind") == "Ingress":
                return doc["metadata"].get("annotations", {})
    raise AssertionError("the chart rendered no Ingress")


def test_the_chart_buffers_bodies_at_the_proxy():
    annotations = chart_ingress_annotations()
    assert annotations[PREFIX + "proxy-request-buffering"] == "on"
    missing = [a for a in ANNOTATIONS if PREFIX + a not in annotations]
    assert not missing, f"the chart's Ingress lacks {missing}"


@pytest.fixture
def nginx(tmp_path):
    """nginx in front of `spin up`, both on 127.0.0.1; yields nginx's host:port and the app
    (its log shows which requests reached it)."""
    runtimes.require("spin")
    exe = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    assert exe, "nginx is missing: run `make deps` (Debian package nginx)"
    annotations = chart_ingress_annotations()
    with runtimes.serve("spin") as app:
        listen = f"127.0.0.1:{runtimes.free_port()}"
        fill = {placeholder: annotations[PREFIX + name] for name, placeholder in ANNOTATIONS.items()}
        config = tmp_path / "nginx.conf"
        config.write_text(TEMPLATE.read_text().format(prefix=tmp_path, listen=listen,
                                                      upstream=app.addr, **fill))
        proc = subprocess.Popen([exe, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            runtimes.wait_http(f"http://{listen}/health", proc, tmp_path / "error.log", "nginx", 30)
            yield listen, app
        finally:
            runtimes.stop(proc, timeout=10)


def stall(addr: str, count: int) -> list[socket.socket]:
    """`count` connections that each send the head of a POST /predict of 1000 bytes and 7 of
    them, then nothing."""
    host, port = addr.rsplit(":", 1)
    head = (b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + PATIENT[:7])
    sockets = []
    for i in range(count):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(head)
        sockets.append(s)
        if i % 200 == 199:
            time.sleep(0.05)  # stay under the listen backlog
    return sockets


def status(url: str, body: bytes | None = None) -> int:
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
        return r.status


def predict_lines(log: Path) -> list[dict]:
    """The component's request lines for POST /predict in the app's log."""
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("event") == "request" and obj.get("path") == "/predict":
            lines.append(obj)
    return lines


def test_stalled_bodies_do_not_reach_the_app(nginx):
    proxy, app = nginx
    sockets = stall(proxy, STALLED)
    try:
        time.sleep(1)  # let nginx take them all in
        answers = []
        for _ in range(ANSWERED):
            answers.append(status(f"http://{proxy}/health"))
            answers.append(status(f"http://{proxy}/predict", PATIENT))
        assert set(answers) == {200}, answers
        # The app saw our predictions and none of the stalled bodies: no 408, no instance held.
        deadline = time.monotonic() + 10
        while len(predict_lines(app.log)) < ANSWERED and time.monotonic() < deadline:
            time.sleep(0.05)  # the log line is written after the answer
        assert [line["status"] for line in predict_lines(app.log)] == [200] * ANSWERED
        # The stalled connections are still open at the proxy (not refused, not answered).
        for s in sockets[:: STALLED // 10]:
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1)
    finally:
        for s in sockets:
            s.close()
