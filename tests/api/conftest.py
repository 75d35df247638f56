"""Serve the real release .wasm on 127.0.0.1 for the API tests, once per runtime."""

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
import runtimes  # noqa: E402  (tests/runtimes.py: how each runtime starts and stops)


# The hosts the API checks run on: the plain wasi:http host, Spin on spin.toml, Spin on the
# pushed OCI artifact, and SpinKube's node runtime (containerd-shim-spin under containerd).
API_RUNTIMES = ["wasmtime", "spin", "spin-oci", "shim"]


@pytest.fixture(scope="session", params=API_RUNTIMES)
def base_url(request):
    """http://127.0.0.1:PORT of the component served by one runtime (tests/runtimes.py),
    stopped after the session. HEART_SKIP_RUNTIMES leaves a runtime out."""
    if runtimes.skipped(request.param):
        pytest.skip(f"{request.param}: left out by HEART_SKIP_RUNTIMES")
    with runtimes.serve(request.param) as server:
        yield server.url


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
