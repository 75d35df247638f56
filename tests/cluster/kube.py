"""Talking to a Kubernetes API server: kubectl (the cluster's own client) and Helm (the real
Helm 4 library, helm-python-sdk), for the throwaway cluster and for `make cluster-smoke`
against any KUBECONFIG. Waiting is polling with a deadline; a timeout names what it waited
for and the last state seen."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable


class Kube:
    """kubectl with one kubeconfig (None: kubectl's own resolution, $KUBECONFIG first)."""

    def __init__(self, kubeconfig: Path | None = None):
        self.kubeconfig = kubeconfig

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        cmd = ["kubectl", *(["--kubeconfig", str(self.kubeconfig)] if self.kubeconfig else []), *args]
        p = subprocess.run(cmd, capture_output=True, text=True, input=input)
        if check and p.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
        return p.stdout if check else p.stdout + p.stderr

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def apply(self, objects: list[dict]) -> None:
        """Server-side apply: the API server validates every field against the schema
        (strict field validation) and refuses unknown ones."""
        text = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        self.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=heart-test",
                     "-f", "-", input=text)

    def helm(self, namespace: str):
        """A helm-python-sdk Config for `namespace` on this cluster."""
        from helm_python import Config

        kw = {"kubeconfig_path": str(self.kubeconfig)} if self.kubeconfig else {}
        return Config(namespace=namespace, **kw)

    # -- the app's objects --------------------------------------------------------------------

    def pods(self, namespace: str, app: str) -> list[dict]:
        return self.get("pods", "-n", namespace, "-l", f"core.spinkube.dev/app-name={app}")["items"]

    def ready_pods(self, namespace: str, app: str) -> list[dict]:
        return [p for p in self.pods(namespace, app) if is_ready(p)
                and not p["metadata"].get("deletionTimestamp")]

    def rolled_out(self, namespace: str, app: str, generation: int, replicas: int) -> bool:
        """Whether the operator's Deployment `app` has observed `generation` (or later) and
        runs exactly `replicas` pods of it, all Ready, with no old pod left."""
        s = self.get("deployment", "-n", namespace, app).get("status", {})
        return (s.get("observedGeneration", 0) >= generation and s.get("updatedReplicas") == replicas
                and s.get("readyReplicas") == replicas and s.get("replicas") == replicas
                and len(self.ready_pods(namespace, app)) == replicas == len(self.pods(namespace, app)))

    def node_ip(self) -> str:
        node = self.get("nodes")["items"][0]
        return next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")

    def wait_ready(self, namespace: str, app: str, replicas: int, timeout: float = 180) -> list[dict]:
        """Until the operator's Deployment `app` exists and exactly `replicas` of its pods are
        Ready and none is starting or stopping; returns the pods."""

        def ready() -> list[dict] | None:
            pods = self.pods(namespace, app)
            ok = [p for p in pods if is_ready(p) and not p["metadata"].get("deletionTimestamp")]
            return ok if len(ok) == replicas == len(pods) else None

        return wait_for(f"{replicas} Ready pods of {namespace}/{app}", ready, timeout,
                        lambda: self.kubectl("get", "pods,deploy,spinapp", "-n", namespace,
                                             "-o", "wide", check=False))


class Watch:
    """The API server's watch of one collection (`kubectl get --raw PATH?watch=1`: one JSON
    event per line), kept while the context is open. `added()` gives each object's
    resourceVersion at creation: etcd's revision, one counter for the whole cluster, so two
    objects' creation order can be read from them (a test's proof, not an API contract)."""

    def __init__(self, kube: Kube, path: str):
        # From the collection's current revision: nothing created after this call is missed,
        # however long kubectl takes to connect.
        since = json.loads(kube.kubectl("get", "--raw", path))["metadata"]["resourceVersion"]
        cmd = ["kubectl", *(["--kubeconfig", str(kube.kubeconfig)] if kube.kubeconfig else []),
               "get", "--raw", f"{path}?watch=1&resourceVersion={since}"]
        self.events: list[dict] = []
        self.received: list[float] = []  # time.monotonic() when each event arrived
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._proc.stdout:
            if line.strip():
                self.received.append(time.monotonic())
                self.events.append(json.loads(line))

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.wait()
        self._thread.join()

    def added(self) -> dict[str, int]:
        return {e["object"]["metadata"]["name"]: int(e["object"]["metadata"]["resourceVersion"])
                for e in self.events if e["type"] == "ADDED"}


def is_ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod.get("status", {}).get("conditions", []))


def restarts(pods: list[dict]) -> int:
    return sum(c.get("restartCount", 0) for p in pods
               for c in p.get("status", {}).get("containerStatuses", []))


_QUANTITY = re.compile(r"^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_SCALE = {None: 1, "m": Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(q: str | int | float) -> Fraction:
    """A Kubernetes quantity's value: the API server stores `1000m` as `1` and `0.5` as
    `500m`, so quantities compare by value, never as text."""
    m = _QUANTITY.match(str(q))
    if not m:
        raise ValueError(f"not a Kubernetes quantity: {q!r}")
    return Fraction(m.group(1)) * _SCALE[m.group(2)]


def resources(r: dict) -> dict:
    """requests/limits with every quantity as its value (see `quantity`)."""
    return {kind: {k: quantity(v) for k, v in r.get(kind, {}).items()}
            for kind in ("requests", "limits") if r.get(kind)}


class GaveUp(Exception):
    """Raised by a wait_for check: stop waiting, it will never come (a process died)."""


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120,
             state: Callable[[], str] | None = None, poll_s: float = 0.2) -> Any:
    """Calls `check` until it returns something true; a timeout names `what`, the last error
    and `state()`."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except GaveUp:
            raise
        except Exception as e:  # noqa: BLE001 — any other failure means: not yet
            last = e
        time.sleep(poll_s)
    seen = f"\n{state()}" if state else ""
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}"
                       f"{f' (last error: {last})' if last else ''}{seen}")
