"""Small client helpers of the API tests (a module of its own: pytest's `conftest` name is
shared by every test folder, so tests import these from here)."""

import json
import urllib.error
import urllib.request

from fixtures import FEATURES, cleveland_rows


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
    return [{n: (None if c == "?" else float(c)) for n, c in zip(FEATURES, cells)}
            for cells in cleveland_rows()]
