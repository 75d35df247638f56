"""The OCI image of `make image`: reproducible, readable by skopeo, and it survives a
push to and a pull from a real registry (Debian's docker-registry on 127.0.0.1) with
the component byte for byte.

The component is $WASM (the Makefile passes the release build) and the manifest
$SPIN_TOML (the repository's spin.toml); both must exist: `make test-kube` builds first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

BUILDER = ROOT / "tools" / "oci" / "build-image.py"
WASM = Path(os.environ.get("WASM", ROOT / "target/heart_disease_api.wasm"))
SPIN_TOML = Path(os.environ.get("SPIN_TOML", ROOT / "spin.toml"))
if not WASM.is_absolute():
    WASM = ROOT / WASM
if not SPIN_TOML.is_absolute():
    SPIN_TOML = ROOT / SPIN_TOML
TAG = "0.1.0"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(out: Path, wasm: Path = WASM, env: dict | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, str(BUILDER), "--wasm", str(wasm), "--spin-toml", str(SPIN_TOML),
         "--out", str(out), "--tag", TAG],
        capture_output=True, text=True, env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    digest = proc.stdout.strip()
    assert digest.startswith("sha256:") and len(digest) == 71, digest
    return digest


def skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert proc.returncode == 0, f"skopeo {' '.join(args)}: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def inputs() -> None:
    assert WASM.is_file(), f"{WASM} missing: `make test-kube` builds it (make build)"
    assert SPIN_TOML.is_file(), f"{SPIN_TOML} missing"
    assert shutil.which("skopeo"), "skopeo missing: run `make apt-tools`"


@pytest.fixture(scope="module")
def image(tmp_path_factory, inputs) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("oci") / "heart-disease-api"
    return out, build(out)


def read_layer(layout: Path) -> dict[str, bytes]:
    """Files of the single layer of the image in an OCI layout (via its index)."""
    index = json.loads((layout / "index.json").read_text())
    (desc,) = index["manifests"]
    blob = lambda d: layout / "blobs" / "sha256" / d.split(":", 1)[1]
    manifest = json.loads(blob(desc["digest"]).read_text())
    (layer,) = manifest["layers"]
    files = {}
    with tarfile.open(blob(layer["digest"])) as tar:
        for member in tar.getmembers():
            assert member.isfile(), member.name
            files[member.name] = tar.extractfile(member).read()
    return files


def test_image_holds_spin_toml_and_component(image):
    layout, _ = image
    files = read_layer(layout)
    assert set(files) == {"spin.toml", WASM.name}
    assert hashlib.sha256(files[WASM.name]).hexdigest() == sha256(WASM)
    manifest = tomllib.loads(files["spin.toml"].decode())
    sources = {c["source"] for c in manifest["component"].values()}
    assert sources == {WASM.name}, "spin.toml in the image must name the .wasm at the image root"
    original = tomllib.loads(SPIN_TOML.read_text())
    assert manifest["application"] == original["application"]
    assert manifest["trigger"] == original["trigger"]


def test_skopeo_inspects_local_image(image):
    layout, digest = image
    info = json.loads(skopeo("inspect", f"oci:{layout}:{TAG}"))
    assert info["Digest"] == digest
    assert (info["Os"], info["Architecture"]) == ("wasi", "wasm")
    assert len(info["Layers"]) == 1
    config = json.loads(skopeo("inspect", "--config", f"oci:{layout}:{TAG}"))
    assert config["config"]["Entrypoint"] == ["/"]
    assert "created" not in config


def test_reproducible_digest(tmp_path, image, inputs):
    """Same sources -> same digest, whatever the files' mtimes or the output path."""
    _, digest = image
    wasm_copy = tmp_path / WASM.name
    shutil.copy(WASM, wasm_copy)
    os.utime(wasm_copy, (1_000_000_000, 1_000_000_000))
    assert build(tmp_path / "a" / "img", wasm_copy) == digest
    assert build(tmp_path / "b" / "other-name", wasm_copy) == digest
    # ...and different sources -> a different digest.
    wasm_copy.write_bytes(WASM.read_bytes() + b"\0")
    assert build(tmp_path / "c" / "img", wasm_copy) != digest


def test_builder_rejects_non_wasm(tmp_path, inputs):
    fake = tmp_path / WASM.name
    fake.write_bytes(b"not wasm")
    proc = subprocess.run([sys.executable, str(BUILDER), "--wasm", str(fake), "--spin-toml",
                           str(SPIN_TOML), "--out", str(tmp_path / "o"), "--tag", TAG],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "not a WebAssembly binary" in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry on 127.0.0.1:<free port>, storage in a temp dir."""
    exe = shutil.which("docker-registry")
    assert exe, "docker-registry missing: run `make apt-tools`"
    port = _free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'storage'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (tmp_path / "registry.log").open("w")
    proc = subprocess.Popen([exe, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:  # ready when /v2/ answers; bounded by the deadline, not by a sleep
            assert proc.poll() is None, (tmp_path / "registry.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "registry did not answer within 60 s"
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_push_pull_roundtrip(tmp_path, image, registry):
    layout, digest = image
    ref = f"docker://{registry}/heart-disease-api:{TAG}"
    skopeo("copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false",
           f"oci:{layout}:{TAG}", ref)
    remote = json.loads(skopeo("inspect", "--tls-verify=false", ref))
    assert remote["Digest"] == digest, "the registry must hold the image under the built digest"
    pulled = tmp_path / "pulled"
    skopeo("copy", "--quiet", "--src-tls-verify=false", ref, f"oci:{pulled}:{TAG}")
    files = read_layer(pulled)
    assert hashlib.sha256(files[WASM.name]).hexdigest() == sha256(WASM)
    assert tomllib.loads(files["spin.toml"].decode())["component"]


def test_make_push_target(tmp_path, registry, inputs):
    """`make push` itself: builds the layout, pushes over plain HTTP to 127.0.0.1 and
    checks that the registry reports the built digest."""
    oci = tmp_path / "oci" / "heart-disease-api"
    proc = subprocess.run(
        ["make", "--no-print-directory", "push", f"REGISTRY={registry}", "WASM_BUILD_TARGET=",
         f"WASM={WASM}", f"SPIN_TOML={SPIN_TOML}", f"OCI_DIR={oci}", "MINIKUBE=false"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    digest = (tmp_path / "oci" / "heart-disease-api.digest").read_text().strip()
    assert f"pushed {registry}/heart-disease-api:{TAG}@{digest}" in proc.stdout
    assert "(tls-verify=false)" in proc.stdout


def test_make_push_needs_registry(inputs):
    proc = subprocess.run(["make", "--no-print-directory", "push", "WASM_BUILD_TARGET=",
                           f"WASM={WASM}", f"SPIN_TOML={SPIN_TOML}", "OCI_DIR=/nonexistent/x"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "set REGISTRY" in proc.stderr
