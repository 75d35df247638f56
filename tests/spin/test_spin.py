"""Spin's own tools on the project, the Spin OCI artifact `make push` writes, and that artifact
on SpinKube's node runtime (containerd + containerd-shim-spin) as a node runs it: pulled once,
started, stopped with SIGTERM, started again from the precompiled layer.

The API itself is checked on every runtime by tests/served.rs and tests/api; these tests
check what only Spin's tooling and the node runtime do.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tomllib
import urllib.request

import pytest

import runtimes
from runtimes import REPO, SPIN_TOML, WASM_LAYER

WASM = runtimes.DEFAULT_WASM
SPIN_CONFIG_LAYER = "application/vnd.fermyon.spin.application.v1+config"
# The kubelet's default grace period: SIGKILL follows SIGTERM after it. An app that exits 0
# stopped on SIGTERM; a hang would be killed and fail with another code (no timing assertion).
GRACE_S = 30


def blob(host: str, digest: str) -> bytes:
    with urllib.request.urlopen(f"http://{host}/v2/{runtimes.APP}/blobs/{digest}", timeout=10) as r:
        return r.read()


def test_spin_build_builds_what_spin_toml_names():
    runtimes.require("spin")
    spin = runtimes.program("spin", "spin")
    proc = subprocess.run([spin, "build", "--from", str(SPIN_TOML)], cwd=REPO, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = tomllib.loads(SPIN_TOML.read_text())
    (component,) = manifest["component"].values()
    built = (REPO / component["source"]).read_bytes()
    # A component (layer 1), not a core module: the binary's version field says which.
    assert built[:8] == b"\0asm\x0d\x00\x01\x00", "spin build must leave a wasm component"
    assert f"sha256 {hashlib.sha256(built).hexdigest()}" in proc.stdout, proc.stdout


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    runtimes.require("spin")
    workdir = tmp_path_factory.mktemp("registry")
    with runtimes.registry(workdir) as host:
        yield host, workdir


def test_make_push_writes_the_artifact_spinkube_documents(registry):
    host, workdir = registry
    pushed = runtimes.push(host, WASM, workdir, tag="v1")  # checks the wasm layer's digest
    layers = pushed.manifest["layers"]
    assert [layer["mediaType"] for layer in layers] == [WASM_LAYER, SPIN_CONFIG_LAYER]
    config = json.loads(blob(host, pushed.manifest["config"]["digest"]))
    # The shim runs only images whose platform is wasm (runwasi's load_modules).
    assert config["architecture"] == "wasm", config
    app = tomllib.loads(SPIN_TOML.read_text())["application"]
    annotations = pushed.manifest["annotations"]
    assert annotations["org.opencontainers.image.title"] == app["name"]
    assert annotations["org.opencontainers.image.version"] == app["version"]
    # The Spin config names the component by the wasm layer's digest: the shim loads that layer.
    spin_config = json.loads(blob(host, layers[1]["digest"]))
    assert layers[0]["digest"] in json.dumps(spin_config)


def test_the_same_sources_push_to_the_same_digest(registry):
    """`make push` pins the image's creation time to the last commit, so the digest the chart
    deploys follows from the sources alone."""
    host, workdir = registry
    first = runtimes.push(host, WASM, workdir, tag="again-1")
    second = runtimes.push(host, WASM, workdir, tag="again-2")
    assert first.digest == second.digest


@pytest.mark.parametrize("shim, wasm, build", [
    (None, runtimes.DEFAULT_WASM_P3, "wasi:http 0.3"),  # the default: v0.25.1, Spin 4
    ("v0.25.0", runtimes.DEFAULT_WASM_P3, "wasi:http 0.3"),
    ("v0.24.0", WASM, "wasi:http 0.2"),
])
def test_make_push_picks_the_build_the_shim_runs(registry, shim, wasm, build):
    """Shims from v0.25 embed Spin 4, which runs the wasi:http 0.3 build; older ones (Spin 3)
    get the 0.2 build. `make push` says which it pushed, and the registry holds that build."""
    host, workdir = registry
    tag = f"picks-{shim or 'default'}"
    out = runtimes.run(["make", "--no-print-directory", "push", f"REGISTRY={host}", f"IMAGE_TAG={tag}",
                        "WASM_BUILD_TARGET=", f"PUSHED={workdir / 'pushed'}", "MINIKUBE=false",
                        *([f"SHIM_VERSION={shim}"] if shim else [])],
                       "make push", env=runtimes.spin_env(workdir), cwd=REPO)
    assert f"the {build} build, for containerd-shim-spin {shim or 'v0.25.1'}" in out, out
    runtimes.pushed_artifact(host, runtimes.APP, tag, wasm)  # its one wasm layer is that build


def test_make_push_needs_a_registry():
    proc = subprocess.run(["make", "--no-print-directory", "push", "WASM_BUILD_TARGET="], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "set REGISTRY" in proc.stderr


def test_a_node_pulls_runs_stops_and_restarts_from_the_precompiled_layer(tmp_path):
    """What a SpinKube node does with the pushed artifact: the shim compiles the wasm layer on
    the first start and keeps the result in containerd's content store; the second start loads
    it and compiles nothing. Each start answers, and each SIGTERM ends the app cleanly."""
    runtimes.require("shim")
    wasm_digest = f"sha256:{runtimes.sha256_file(WASM)}"
    with runtimes.registry(tmp_path, "shim") as host, \
            runtimes.Containerd(tmp_path, debug=True) as node:
        pushed = runtimes.push(host, WASM, tmp_path, runtime="shim")
        node.pull(pushed.pinned)
        for start in ("first", "second"):
            seen = len(node.log.read_text(errors="replace"))
            addr = f"127.0.0.1:{runtimes.free_port()}"
            log = tmp_path / f"{start}.log"
            proc = node.run_app(pushed.pinned, f"app-{start}", addr, log)
            runtimes.wait_http(f"http://{addr}/health", proc, log, f"{start} start")
            code = runtimes.stop_container(node, f"app-{start}", proc, timeout=GRACE_S)
            assert code == 0, f"{start} start: exit {code} after SIGTERM\n{runtimes.tail(log)}"
            daemon = node.log.read_text(errors="replace")[seen:]
            # Cranelift logs each function it compiles at debug level.
            compiled = daemon.count("compiled in")
            if start == "first":
                assert "precompiling layers for image" in daemon, daemon[-3000:]
                assert compiled > 0, "the first start must compile the component"
            else:
                assert f"layer {wasm_digest} has pre-compiled content" in daemon, daemon[-3000:]
                assert compiled == 0, f"the second start compiled {compiled} functions again"
        assert node.ctr("containers", "list", "-q").split() == [], "ctr run --rm left a container"
