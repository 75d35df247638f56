"""Serve the real release .wasm on 127.0.0.1 for the API tests, once per runtime."""

import pytest

import runtimes  # tests/runtimes.py: how each runtime starts and stops


# The hosts the API checks run on: the plain wasi:http host, Spin on spin.toml (and, on Spin 4,
# the wasi:http 0.3 build on spin-p3.toml), Spin on the pushed OCI artifact, and SpinKube's node
# runtime (containerd-shim-spin under containerd; v0.25 runs the 0.3 build's artifact too).
API_RUNTIMES = ["wasmtime", "spin", "spin-p3", "spin-oci", "shim", "shim-p3"]


@pytest.fixture(scope="session", params=API_RUNTIMES)
def base_url(request):
    """http://127.0.0.1:PORT of the component served by one runtime (tests/runtimes.py),
    stopped after the session; reported as not run where the runtime's programs are not
    installed (Spin, the shim: in no package registry)."""
    runtimes.require(request.param)
    with runtimes.serve(request.param) as server:
        yield server.url
