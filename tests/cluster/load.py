"""Bounded load on the app through a URL (the NodePort): POST /predict with the example
patient at a fixed rate, for the rollout and autoscaling checks and the density benchmark.

Bounded in both count and time: `Load(url, rate, limit)` sends at most `limit` requests, one
every 1/rate seconds, each on a new connection (as kube-proxy balances connections, not
requests), and stops early on `stop()`. Every outcome is kept: the status and body of an
answer, or the kind of failure (refused, reset, timeout) with the time it happened, so a
report can say when and how a request failed, not just how many did.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fixtures import example_json  # tests/fixtures.py

TIMEOUT_S = 3.0


@dataclass
class Outcome:
    at: float  # seconds since the load started
    status: int | None  # None: no answer
    error: str = ""  # refused, reset, timeout, other: …
    body: bytes = b""


def post_predict(url: str, body: bytes, timeout: float = TIMEOUT_S) -> tuple[int, bytes]:
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        conn.request("POST", "/predict", body, {"content-type": "application/json",
                                                "connection": "close"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def failure_kind(e: Exception) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)):
        return "reset"
    if isinstance(e, TimeoutError) or "timed out" in str(e):
        return "timeout"
    return f"other: {type(e).__name__}: {e}"


@dataclass
class Load:
    url: str
    rate: float = 20.0
    limit: int = 600
    # A network namespace (a name under /run/netns) to send from, e.g. the client outside the
    # node (`cluster.client`); None: from the caller's.
    netns: str | None = None
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._body = example_json().encode()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Load":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self) -> None:
        """Until every request has been sent and answered (or failed)."""
        self._thread.join()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _one(self, start: float) -> None:
        at = time.monotonic() - start
        try:
            status, body = post_predict(self.url, self._body)
            out = Outcome(at, status, body=body)
        except Exception as e:  # noqa: BLE001 — every failure is an outcome
            out = Outcome(at, None, failure_kind(e))
        with self._lock:
            self.outcomes.append(out)

    def _run(self) -> None:
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=32, initializer=enter_netns, initargs=(self.netns,)) as pool:
            for i in range(self.limit):
                due = start + i / self.rate
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    break
                pool.submit(self._one, start)

    # -- what happened --------------------------------------------------------------------

    def answered(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not None]

    def failed(self) -> list[Outcome]:
        """Requests that got no 200 with a prediction."""
        return [o for o in self.outcomes if not good(o)]

    def summary(self) -> dict:
        kinds: dict[str, int] = {}
        for o in self.failed():
            k = o.error or f"HTTP {o.status}"
            kinds[k] = kinds.get(k, 0) + 1
        return {"sent": len(self.outcomes), "failed": len(self.failed()), "kinds": kinds,
                "failed_at_s": [round(o.at, 2) for o in self.failed()]}


def enter_netns(name: str | None) -> None:
    """Moves the calling thread (a load worker) into network namespace `name`: its
    connections then leave from there. Python 3.11's os has no setns; libc's is the call."""
    if name is None:
        return
    CLONE_NEWNET = 0x40000000
    with open(f"/run/netns/{name}") as ns:
        if ctypes.CDLL(None, use_errno=True).setns(ns.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")


def good(o: Outcome) -> bool:
    if o.status != 200:
        return False
    try:
        return 0.0 <= json.loads(o.body)["probability"] <= 1.0
    except (ValueError, KeyError, TypeError):
        return False
