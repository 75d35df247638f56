"""The browser page (`make web`): the same .wasm, transpiled by jco, run by Chromium.

A clinician's session is played in Debian's Chromium with puppeteer-core (tests/web/drive.mjs):
the form is filled for patients of the training data (some lacking ca, thal or slope), one
with out-of-range values and one with required fields left empty; what the page shows is
compared with POST /predict of the same component served by wasmtime. The page must make no
request after it has loaded, fetch nothing from another origin, and weigh at most 160 kB
gzipped (every response it loaded). The screenshots go to target/screenshots/web.png and
web-mobile.png.
"""

import gzip
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from fixtures import FEATURES, cleveland_rows
from runtimes import REPO

WEB = REPO / "target" / "web"
SCREENSHOTS = REPO / "target" / "screenshots"
BUDGET_GZIP = 160_000  # bytes: "160 kB", everything the page loads, gzip -9 each
TOLERANCE = 1e-12


def typed(value: str) -> str:
    """How a clinician types a value of the data file: 63.0 → "63", 2.3 → "2.3", ? → ""."""
    if value == "?":
        return ""
    x = float(value)
    return str(int(x)) if x.is_integer() else str(x)


def row(line: int) -> dict[str, str]:
    """The form values of line `line` (1-based) of the Cleveland data."""
    return {name: typed(v) for name, v in zip(FEATURES, cleveland_rows()[line - 1])}


def cases() -> list[dict]:
    first = row(1)
    with_comma = row(2)
    with_comma["oldpeak"] = with_comma["oldpeak"].replace(".", ",")  # a European decimal comma
    no_slope_no_ca = row(193)  # ca missing in the data; slope left out too
    no_slope_no_ca["slope"] = ""
    invalid = dict(first, age="150", trestbps="30", chol="1000", oldpeak="12", ca="1.5")
    blank = dict(first, age="", cp="")
    return [
        {"name": "line 1: complete", "values": first},
        {"name": "line 2: complete, decimal comma", "values": with_comma},
        {"name": "line 88: thal missing", "values": row(88)},
        {"name": "line 167: ca missing", "values": row(167)},
        {"name": "line 267: thal missing", "values": row(267)},
        {"name": "line 193: ca and slope missing", "values": no_slope_no_ca, "screenshot": True},
        {"name": "out of range", "values": invalid},
        {"name": "required fields empty", "values": blank},
    ]


def body(values: dict[str, str]) -> dict:
    """The JSON patient the page's values stand for: an empty optional field is left out."""
    return {k: float(v.replace(",", ".")) for k, v in values.items() if v != ""}


def post(url: str, patient: dict) -> tuple[int, dict]:
    req = urllib.request.Request(f"{url}/predict", data=json.dumps(patient).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def get(url: str, path: str) -> dict:
    with urllib.request.urlopen(f"{url}{path}", timeout=10) as r:
        return json.load(r)


@pytest.fixture(scope="session")
def session(site, chromium, tmp_path_factory):
    """One browser session over every case (tests/web/drive.mjs), with what the page showed."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    case_file = tmp_path_factory.mktemp("web") / "cases.json"
    case_list = cases()
    case_file.write_text(json.dumps(case_list))
    proc = subprocess.run(
        ["node", str(REPO / "tests" / "web" / "drive.mjs"), site.url, str(case_file), str(SCREENSHOTS), chromium],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"drive.mjs failed:\n{proc.stderr[-4000:]}"
    out = json.loads(proc.stdout)
    out["cases"] = case_list
    return out


def test_every_answer_is_the_served_components(session, server_url):
    results = {r["name"]: r for r in session["results"]}
    for case in session["cases"]:
        if case["name"] == "required fields empty":
            continue
        shown = results[case["name"]]
        status, served = post(server_url, body(case["values"]))
        what = case["name"]
        if status == 200:
            assert shown["outcome"] == "assessed", f"{what}: {shown}"
            assert shown["resultVisible"] and not shown["errorsVisible"], what
            assert abs(shown["probability"] - served["probability"]) <= TOLERANCE, what
            assert shown["riskLevel"] == served["risk_level"], what
            assert shown["prediction"] == served["prediction"], what
            assert abs(shown["intercept"] - served["intercept"]) <= TOLERANCE, what
            assert shown["contributions"].keys() == served["contributions"].keys(), what
            for name, value in served["contributions"].items():
                assert abs(shown["contributions"][name] - value) <= TOLERANCE, f"{what}: {name}"
            assert shown["imputed"] == served["imputed"], what
            assert shown["shown"] == f"{100 * served['probability']:.1f} %", what
        else:
            assert status == 422, f"{what}: {status} {served}"
            assert shown["outcome"] == "invalid", f"{what}: {shown}"
            assert shown["errorsVisible"] and not shown["resultVisible"], what
            assert shown["errors"] == served["errors"], what
            # Each error is also shown at its own field.
            assert shown["fieldErrors"] == {e["field"]: e["reason"] for e in served["errors"]}, what
    # The cases cover what they claim to.
    imputed = [r["imputed"] for r in session["results"] if r["outcome"] == "assessed"]
    assert ["thal"] in imputed and ["ca"] in imputed and ["slope", "ca"] in imputed
    assert {r["riskLevel"] for r in session["results"] if r["outcome"] == "assessed"} >= {"low", "high"}
    invalid = results["out of range"]
    assert [e["field"] for e in invalid["errors"]] == ["/age", "/trestbps", "/chol", "/oldpeak", "/ca"]


def test_empty_required_fields_get_the_components_own_errors(session, server_url):
    """The typed export cannot be given a missing required value; the page passes NaN and shows
    what the component answers: its rule for that field."""
    shown = next(r for r in session["results"] if r["name"] == "required fields empty")
    assert shown["outcome"] == "invalid"
    assert [e["field"] for e in shown["errors"]] == ["/age", "/cp"]
    valid = {f["name"]: f["valid"] for f in get(server_url, "/model")["features"]}
    for e in shown["errors"]:
        assert valid[e["field"][1:]] in e["reason"], e
        assert shown["fieldErrors"][e["field"]] == e["reason"]


def test_the_form_is_the_served_feature_table(session, server_url):
    """Every field, in order, with the meaning, unit, valid values and optionality of the
    served /model and /openapi.json (the page builds its form from the component itself)."""
    card = get(server_url, "/model")["features"]
    schema = get(server_url, "/openapi.json")["components"]["schemas"]["Patient"]
    form = session["form"]
    assert [f["name"] for f in form] == [f["name"] for f in card]  # the model card's order (UCI's)
    assert {f["name"] for f in form} == set(schema["properties"])
    for field, feature in zip(form, card):
        prop = schema["properties"][field["name"]]
        what = field["name"]
        assert feature["description"].startswith(field["label"]), what
        assert field["optional"] == (not feature["required"]) == (field["name"] not in schema["required"]), what
        assert field["hint"].endswith(field["name"]), what
        if "enum" in prop:
            assert field["control"] == "select", what
            options = field["options"]
            assert options[0]["value"] == "", what
            assert [float(o["value"]) for o in options[1:]] == [v for v in prop["enum"] if v is not None], what
            for o in options[1:]:
                assert f"{o['value']} = {o['label']}" in feature["description"], f"{what}: {o}"
        else:
            assert field["control"] == "input", what
            expected = f"{prop['minimum']:g}–{prop['maximum']:g}"
            assert field["hint"].startswith(expected), f"{what}: {field['hint']!r}"
            if feature["unit"]:
                assert feature["unit"] in field["hint"], what
        if not feature["required"]:
            assert "optional: if not known, imputed as" in field["hint"], what


def test_nothing_leaves_the_page_after_load(session, site):
    assert session["afterLoad"] == [], "requests after the page had loaded"
    for r in session["requests"]:
        assert r["url"].startswith(site.url), f"a request to another origin: {r}"
    assert session["cspViolations"] == []
    assert session["pageErrors"] == []
    assert session["consoleErrors"] == []


def test_content_types_and_the_gzip_budget(session, site):
    responses = {urllib.parse.urlsplit(r["url"]).path: r for r in session["responses"]}
    for path, r in responses.items():
        assert r["status"] == 200, r
        expected = {".wasm": "application/wasm", ".js": "text/javascript", ".css": "text/css"}.get(
            Path(path).suffix, "text/html")
        assert r["contentType"].startswith(expected), r
    served = {path for path, code in site.served if code == 200}
    assert served == set(responses), "what the server served is what the page loaded"
    sizes = {}
    for path in sorted(served):
        file = WEB / (path.lstrip("/") or "index.html")
        if file.is_dir():
            file = file / "index.html"
        sizes[path] = len(gzip.compress(file.read_bytes(), compresslevel=9))
    total = sum(sizes.values())
    print(f"\npage: {len(sizes)} responses, {total} bytes gzip (budget {BUDGET_GZIP}); "
          f"component instantiated in {session['loadMs']} ms")
    for path, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {size:>7}  {path}")
    assert total <= BUDGET_GZIP, f"the page loads {total} bytes gzip, over {BUDGET_GZIP}"


def test_screenshots_were_taken(session):
    for name in ("web.png", "web-mobile.png"):
        png = SCREENSHOTS / name
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
