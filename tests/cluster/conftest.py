"""The throwaway cluster for every check in this folder: brought up once per run (node.py),
torn down at the end, with the app's Spin artifact pushed to its registry the way `make push`
pushes it. Every test gets namespaces of its own (`namespace`), deleted after it.

Run through `make test-cluster` (netns.py gives the run its own network namespace). Where a
program is missing, every test here is reported as not run, naming it."""

from __future__ import annotations

import itertools
import os

import pytest

import node
import runtimes  # tests/runtimes.py
from kube import wait_for

WHY = node.not_run() or (None if os.environ.get("HEART_NETNS") else
                         "the cluster runs only inside the network namespace `make test-cluster`"
                         " makes (tests/cluster/netns.py)")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    if WHY:
        pytest.skip(f"cluster not run: {WHY}")
    c = node.Cluster(tmp_path_factory.mktemp("cluster"))
    with c:
        yield c
    left = c.leftovers()
    assert not left, f"the cluster left behind: {left}"


@pytest.fixture(scope="session")
def pushed(cluster, tmp_path_factory) -> str:
    """The app's artifact as the node pulls it (localhost:5000/heart-disease-api@sha256:…),
    pushed by `make push` for the cluster's shim: v0.25 runs the wasi:http 0.3 build."""
    shim = runtimes.program_version(runtimes.program("containerd-shim-spin-v2", "shim"), "-v")
    runtime = "shim-p3" if shim and shim >= runtimes.P3_MIN_VERSION["containerd-shim-spin-v2"] else "shim"
    p = runtimes.push(node.REGISTRY, runtimes.default_wasm(runtime),
                      tmp_path_factory.mktemp("push"), runtime=runtime)
    return f"localhost:5000/{runtimes.APP}@{p.digest}"


@pytest.fixture(scope="session")
def image_values(pushed) -> dict:
    repository, digest = pushed.split("@")
    return {"image": {"repository": repository, "digest": digest},
            "tests": {"image": node.BUSYBOX_IMAGE},
            "drain": {"image": {**node.KUBECTL_IMAGE, "digest": ""}}}


_names = itertools.count(1)


@pytest.fixture
def namespace(cluster, request):
    """A fresh namespace with the containerd-shim-spin executor; `namespace(labels=…)` makes
    more. All are deleted after the test, and the test fails if one does not go."""
    made: list[str] = []

    def make(labels: dict[str, str] | None = None, executor: bool = True) -> str:
        name = f"t{next(_names)}-{request.node.name.split('[')[0][5:][:40].replace('_', '-')}".rstrip("-")
        cluster.apply([{"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": name, "labels": labels or {}}}])
        if executor:
            cluster.apply([node.executor(name)])
        made.append(name)
        return name

    yield make
    for name in made:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
    for name in made:
        wait_for(f"namespace {name} to be deleted",
                 lambda: "NotFound" in cluster.kubectl("get", "namespace", name, check=False), 120,
                 lambda: cluster.kubectl("get", "all,spinapps,spinappexecutors", "-n", name,
                                         "-o", "wide", check=False))


def pytest_report_header(config):
    return f"cluster: {'not run: ' + WHY if WHY else 'runs here'}"


