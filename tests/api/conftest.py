"""Serve the real release .wasm with `wasmtime serve` on 127.0.0.1 for the API tests."""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _wasm() -> Path:
    path = Path(os.environ.get("HEART_WASM", REPO / "target/heart_disease_api.wasm"))
    assert path.exists(), f"{path} is missing: run `make build` (or `make test`)"
    return path


def _wasmtime() -> str:
    found = shutil.which("wasmtime") or str(Path.home() / ".cargo/bin/wasmtime")
    assert Path(found).exists(), "wasmtime is not installed: run `make deps`"
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def base_url():
    """http://127.0.0.1:PORT of a wasmtime serve process, stopped after the session."""
    port = _free_port()
    log = open(REPO / "target" / f"api-tests-{port}.log", "w")
    proc = subprocess.Popen(
        [_wasmtime(), "serve", "-S", "cli=y", "--addr", f"127.0.0.1:{port}", str(_wasm())],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, f"wasmtime serve exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, "wasmtime serve never answered /health"
        time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def post_json(url: str, body) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def dataset() -> list[dict]:
    """The training patients as API objects (missing values as null)."""
    names = ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak", "slope", "ca", "thal"]
    rows = []
    for line in (REPO / "model/data/processed.cleveland.data").read_text().splitlines():
        cells = line.strip().split(",")[:13]
        rows.append({n: (None if c == "?" else float(c)) for n, c in zip(names, cells)})
    return rows
