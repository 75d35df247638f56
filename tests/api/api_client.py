"""Small client helpers of the API tests (a module of its own: pytest's `conftest` name is
shared by every test folder, so tests import these from here)."""

import json
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


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
