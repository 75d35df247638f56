#!/usr/bin/env python3
"""The chart on a cluster, end to end: `make cluster-smoke` against any KUBECONFIG (a
Minikube set up by `make minikube-setup`, the artifact pushed by `make push`), and the same
steps inside `make test-cluster` on the throwaway cluster.

  install (or upgrade) the release with the chosen values and the pushed artifact's digest
  -> wait until the operator's Deployment has the expected number of Ready pods
  -> the API suite (tests/api: schemathesis on every operation, the stock Open Inference
     Protocol client) through the NodePort on the node's InternalIP
  -> `helm test` (templates/tests/: a pod GETs /health through the Service)
  -> uninstall, and wait until the pods are gone.

  python3 tests/cluster/smoke.py [--values FILE] [--set KEY=VALUE ...] [--release R]
                                 [--namespace NS] [--keep]

Needs kubectl, and helm-python-sdk (the .venv `make venv` makes; no helm CLI needed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from kube import Kube, restarts, wait_for  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "heart-disease-api"
PUSHED = REPO / "target" / "pushed-image"


def merge(base: dict, extra: dict) -> dict:
    """Helm's values merge: maps merge key by key, anything else replaces."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def values_for(name: str) -> dict:
    """The chart's value set `name` (default, dev, prod) as a user passes it with -f."""
    path = {"default": None, "dev": CHART / "values-dev.yaml", "prod": CHART / "values-prod.yaml"}[name]
    return {} if path is None else (yaml.safe_load(path.read_text()) or {})


def image_values(reference: str) -> dict:
    """image.* for a pushed reference `host/repo@sha256:…` (what `make push` records)."""
    repository, digest = reference.split("@", 1)
    return {"image": {"repository": repository, "digest": digest}}


def app_of(release: dict) -> str:
    """The SpinApp's name in a release's manifest (the operator names its Deployment and
    pods' `core.spinkube.dev/app-name` after it)."""
    for doc in yaml.safe_load_all(release["manifest"]):
        if doc and doc.get("kind") == "SpinApp":
            return doc["metadata"]["name"]
    raise AssertionError("the release has no SpinApp")


def expected_replicas(values: dict) -> int:
    merged = merge(yaml.safe_load((CHART / "values.yaml").read_text()), values)
    if merged["autoscaling"]["enabled"]:
        return merged["autoscaling"]["minReplicas"]
    return merged["replicaCount"]


def node_port_url(kube: Kube, values: dict) -> str:
    merged = merge(yaml.safe_load((CHART / "values.yaml").read_text()), values)
    return f"http://{kube.node_ip()}:{merged['service']['nodePort']}"


def install(kube: Kube, release: str, namespace: str, values: dict) -> dict:
    """`helm upgrade --install`: install when the release is new, else upgrade."""
    helm = kube.helm(namespace)
    try:
        helm.status(release)
    except Exception:  # noqa: BLE001 — not installed yet
        return helm.install(str(CHART), release, values, namespace=namespace, timeout=300)
    return helm.upgrade(str(CHART), release, values, namespace=namespace, timeout=300)


def pre_stop(kube: Kube, namespace: str, app: str) -> dict | None:
    """The preStop handler of the app's container in the operator's Deployment, if any."""
    spec = kube.get("deployment", "-n", namespace, app)["spec"]["template"]["spec"]
    container = next(c for c in spec["containers"] if c["name"] == app)
    return container.get("lifecycle", {}).get("preStop")


def health(url: str) -> None:
    with urllib.request.urlopen(f"{url}/health", timeout=10) as r:
        assert r.status == 200, f"GET {url}/health answered {r.status}"


def wait_healthy(url: str, timeout: float = 60) -> None:
    """Until GET /health answers 200 through `url` (kube-proxy's rules follow the pods by
    up to a second)."""
    wait_for(f"{url}/health", lambda: health(url) or True, timeout)


def api_suite(url: str) -> None:
    """tests/api against `url`: fails with pytest's report."""
    env = {**os.environ, "HEART_BASE_URL": url}
    p = subprocess.run([sys.executable, "-m", "pytest", str(REPO / "tests" / "api")],
                       cwd=REPO, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"the API suite failed against {url}:\n{p.stdout[-6000:]}{p.stderr[-2000:]}")
    summary = p.stdout.strip().splitlines()[-1]
    if " passed" not in summary or "skipped" in summary:
        raise AssertionError(f"the API suite did not run every check against {url}:\n{p.stdout[-3000:]}")


def helm_test(kube: Kube, release: str, namespace: str) -> dict[str, Any]:
    return kube.helm(namespace).test(release, timeout=120, logs=True)


def uninstall(kube: Kube, release: str, namespace: str, app: str) -> None:
    kube.helm(namespace).uninstall(release, timeout=120)
    wait_for(f"the pods of {app} to go", lambda: not kube.pods(namespace, app), 120,
             lambda: kube.kubectl("get", "all", "-n", namespace, check=False))


def smoke(kube: Kube, release: str, namespace: str, values: dict, keep: bool = False,
          say=print) -> dict:
    """The whole sequence; returns what it saw (app, pods, url, test logs)."""
    say(f"installing {release} in {namespace}")
    rel = install(kube, release, namespace, values)
    app = app_of(rel)
    replicas = expected_replicas(values)
    say(f"waiting for {replicas} Ready pods of {app}")
    pods = kube.wait_ready(namespace, app, replicas)
    url = node_port_url(kube, values)
    wait_healthy(url)
    say(f"API suite through the NodePort, {url}")
    api_suite(url)
    say("helm test")
    tested = helm_test(kube, release, namespace)
    seen = {"app": app, "pods": kube.pods(namespace, app), "url": url, "test": tested,
            "restarts": restarts(kube.pods(namespace, app)), "ready_pods": pods}
    if not keep:
        say(f"uninstalling {release}")
        uninstall(kube, release, namespace, app)
    return seen


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--release", default="heart-disease-api")
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--values", action="append", default=[], help="a values file (repeatable)")
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE (YAML value; repeatable)")
    ap.add_argument("--image", default="", help="host/repo@sha256:… (default: what `make push` recorded,"
                    " as the node pulls it: localhost:5000/heart-disease-api)")
    ap.add_argument("--keep", action="store_true", help="leave the release installed")
    args = ap.parse_args(argv)
    values: dict = {}
    for f in args.values:
        values = merge(values, yaml.safe_load(Path(f).read_text()) or {})
    if args.image:
        values = merge(values, image_values(args.image))
    elif PUSHED.exists():
        digest = PUSHED.read_text().strip().split("@", 1)[1]
        values = merge(values, image_values(f"localhost:5000/heart-disease-api@{digest}"))
    else:
        print("cluster-smoke: nothing pushed yet: run `make push REGISTRY=$(minikube ip):5000` first,"
              " or give --image", file=sys.stderr)
        return 2
    for kv in args.set:
        key, _, raw = kv.partition("=")
        node: dict = {}
        cur = node
        *path, last = key.split(".")
        for part in path:
            cur = cur.setdefault(part, {})
        cur[last] = yaml.safe_load(raw)
        values = merge(values, node)
    seen = smoke(Kube(), args.release, args.namespace, values, keep=args.keep)
    print(json.dumps({"app": seen["app"], "url": seen["url"], "pods": len(seen["pods"]),
                      "restarts": seen["restarts"]}))
    print("cluster-smoke: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
