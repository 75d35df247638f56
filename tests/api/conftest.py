"""Serve the real release .wasm on 127.0.0.1 for the API tests, once per runtime; or, with
HEART_BASE_URL set, check the app already served there (a cluster's NodePort or Service:
`make cluster-smoke` and `make test-cluster` run this suite that way)."""

import os

import pytest

import runtimes  # tests/runtimes.py: how each runtime starts and stops


# The hosts the API checks run on: the plain wasi:http host, Spin on spin.toml (and, on Spin 4,
# the wasi:http 0.3 build on spin-p3.toml), Spin on the pushed OCI artifact, and SpinKube's node
# runtime (containerd-shim-spin under containerd; v0.25 runs the 0.3 build's artifact too).
API_RUNTIMES = ["wasmtime", "spin", "spin-p3", "spin-oci", "shim", "shim-p3"]
BASE_URL = os.environ.get("HEART_BASE_URL", "").rstrip("/")


@pytest.fixture(scope="session", params=["served"] if BASE_URL else API_RUNTIMES)
def base_url(request):
    """http://127.0.0.1:PORT of the component served by one runtime (tests/runtimes.py),
    stopped after the session; reported as not run where the runtime's programs are not
    installed (Spin, the shim: in no package registry)."""
    if BASE_URL:
        yield BASE_URL
        return
    runtimes.require(request.param)
    with runtimes.serve(request.param) as server:
        yield server.url
