"""The log collector's parser, run for real on the component's own log lines.

monitoring/logs/vector.yaml is a Vector agent configuration: `kubernetes_logs` (the app's pods
only) → a `remap` transform whose VRL program parses the per-request JSON line (src/log.rs)
and types its fields → Loki. Vector itself cannot be installed here, so its parsing engine is
run instead: monitoring/logs/vrl-check is a small program on the `vrl` crate (the engine
Vector's `remap` runs) that reads the transform out of vector.yaml, compiles it with VRL's
stdlib, and runs it on each line of its stdin as Vector would on a container log line (each
line is the event's `message`, beside the `kubernetes.*` metadata kubernetes_logs adds).

The lines are real: the release component served by Spin (`spin up`, tests/runtimes.py) is
sent a mix of requests, and everything Spin printed (its own lines too) is fed in, as a
Kubernetes container log would carry it. Every request's line must become one event with the
typed fields of what was sent; every other line must be dropped; no patient value may appear.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import runtimes
from fixtures import FEATURES, RARE_PATIENT, rare_values_in
import yaml

REPO = Path(__file__).resolve().parents[2]
VECTOR_YAML = REPO / "monitoring" / "logs" / "vector.yaml"
CRATE_MANIFEST = REPO / "monitoring" / "logs" / "vrl-check" / "Cargo.toml"
TARGET_DIR = REPO / "target" / "vrl-check"
VRL_CHECK = TARGET_DIR / "release" / "vrl-check"
CHART = REPO / "helm" / "heart-disease-api" / "Chart.yaml"
SOURCE, TRANSFORM, SINK = "heart_pods", "heart_requests", "loki"
NAMESPACE = "heart-logs-test"
LOG_WAIT_S = 15

# The event the transform makes of a request line: exactly these fields, of these types.
EVENT_FIELDS = {"timestamp": str, "app": str, "namespace": str, "pod": str, "request_id": str,
                "method": str, "path": str, "status": int, "status_class": str,
                "latency_ms": float, "batch_size": int, "model_version": str}
# Stream labels that stay few-valued; request_id, pod, path must never be one.
LOKI_LABELS = {"app", "namespace", "status_class"}

# None of the rare patient's values may reach an event.
PATIENT = RARE_PATIENT
BAD_PATIENT = {**PATIENT, "sex": "male", "cp": 5}  # answered 422
OIP_INFER = {"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64",
                         "data": [[PATIENT[f] for f in FEATURES]] * 2}]}
# A caller's x-request-id that is not a plain token is replaced by a generated id.
SMUGGLED_ID = '{"chol":417}'

# A line exactly as the component writes it (captured from `spin up`); the malformed lines are
# made from it.
REAL_LINE = ('{"event":"request","request_id":"3709b10e5156c03c","method":"POST","path":"/predict",'
             '"status":422,"latency_ms":0.087891,"batch_size":0,"model_version":"lr-ebe658642323"}')


@dataclass
class Request:
    """One request the test sends, and the line it must leave (method, path, status, batch)."""

    name: str
    method: str
    target: str  # path and query as sent
    body: object = None
    path: str = ""  # as logged (no query); default: target
    status: int = 200
    batch_size: int = 0
    caller_id: str | None = None  # x-request-id sent; default: a fresh token
    request_id: str = ""  # x-request-id answered

    def __post_init__(self) -> None:
        self.path = self.path or self.target


def requests_to_send(tag: str) -> list[Request]:
    return [
        Request("health", "GET", "/health"),
        Request("health-head", "HEAD", "/health"),
        Request("single", "POST", "/predict", PATIENT, batch_size=1),
        Request("batch", "POST", "/predict", {"instances": [PATIENT, PATIENT, PATIENT]},
                batch_size=3),
        Request("invalid", "POST", "/predict", BAD_PATIENT, status=422),
        Request("unknown-path", "GET", "/no-such-path", status=404),
        Request("wrong-method", "GET", "/predict", status=405),
        Request("oip-infer", "POST", "/v2/models/heart-disease/infer", OIP_INFER, batch_size=2),
        # Patient values in the query and in the request id: neither may reach the log.
        Request("query-and-smuggled-id", "POST", "/predict?age=71&chol=417", PATIENT,
                path="/predict", batch_size=1, caller_id=SMUGGLED_ID),
    ]


def send(url: str, req: Request, tag: str) -> None:
    data = json.dumps(req.body).encode() if req.body is not None else None
    headers = {"x-request-id": req.caller_id or f"logs-{tag}-{req.name}"}
    if data is not None:
        headers["content-type"] = "application/json"
    r = urllib.request.Request(url + req.target, data=data, method=req.method, headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            status, answered = resp.status, resp.headers
            resp.read()
    except urllib.error.HTTPError as e:
        with e:
            status, answered = e.code, e.headers
    assert status == req.status, f"{req.name}: {req.method} {req.target} answered {status}"
    req.request_id = answered["x-request-id"]
    if req.caller_id is None:
        assert req.request_id == headers["x-request-id"]


@dataclass
class Served:
    lines: list[str] = field(default_factory=list)  # everything Spin printed, one per line
    sent: list[Request] = field(default_factory=list)


def log_lines(text: str) -> list[str]:
    """A container log's lines: split on newlines only (a final newline ends the last)."""
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


@pytest.fixture(scope="module")
def served() -> Served:
    runtimes.require("spin")
    tag = secrets.token_hex(4)
    sent = requests_to_send(tag)
    with runtimes.serve("spin") as server:
        for req in sent:
            send(server.url, req, tag)
        # The lines reach the log asynchronously: wait (bounded) for the last one.
        deadline = time.monotonic() + LOG_WAIT_S
        while True:
            text = server.log.read_text(errors="replace")
            if all(f'"request_id":"{r.request_id}"' in text for r in sent):
                break
            assert time.monotonic() < deadline, f"request lines missing from the log:\n{text}"
            time.sleep(0.05)
    return Served(log_lines(text), sent)


@pytest.fixture(scope="module")
def vrl_check() -> Path:
    """Builds monitoring/logs/vrl-check (standalone crate, its own target dir)."""
    p = subprocess.run(["cargo", "build", "--release", "--locked", "--manifest-path",
                        str(CRATE_MANIFEST), "--target-dir", str(TARGET_DIR)],
                       cwd=REPO, capture_output=True, text=True)
    assert p.returncode == 0, f"cargo build of vrl-check failed:\n{p.stderr[-6000:]}"
    return VRL_CHECK


def remap(binary: Path, lines: list[str]) -> list[dict]:
    """Runs the transform of vector.yaml on `lines`; one outcome per line, in order."""
    p = subprocess.run([str(binary), str(VECTOR_YAML), TRANSFORM, "--namespace", NAMESPACE],
                       input="".join(line + "\n" for line in lines), capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, f"vrl-check failed ({p.returncode}):\n{p.stderr}"
    # The program compiles without a warning.
    assert p.stderr == "", p.stderr
    outcomes = [json.loads(line) for line in p.stdout.splitlines()]
    assert [o["line"] for o in outcomes] == list(range(1, len(lines) + 1))
    return outcomes


def request_line(line: str) -> dict | None:
    """The parsed line if it is one of the component's request lines."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and obj.get("event") == "request" else None


@pytest.fixture(scope="module")
def remapped(served: Served, vrl_check: Path) -> list[tuple[str, dict]]:
    """Each line Spin printed, with what the transform made of it."""
    return list(zip(served.lines, remap(vrl_check, served.lines)))


# ---------------------------------------------------------------------------------------------
# The real lines
# ---------------------------------------------------------------------------------------------

def test_every_request_line_becomes_one_typed_event(served, remapped):
    request_lines = 0
    for line, outcome in remapped:
        raw = request_line(line)
        if raw is None:
            continue
        request_lines += 1
        assert outcome["outcome"] == "emitted", (line, outcome)
        event = outcome["event"]
        assert set(event) == set(EVENT_FIELDS), event
        for name, kind in EVENT_FIELDS.items():
            assert type(event[name]) is kind, (name, event)
        for name in ("request_id", "method", "path", "status", "batch_size", "model_version"):
            assert event[name] == raw[name], (name, line, event)
        assert event["latency_ms"] == pytest.approx(float(raw["latency_ms"]))
        assert event["latency_ms"] >= 0
        assert event["status_class"] == f"{event['status'] // 100}xx"
        assert event["app"] == "heart-disease-api"
        assert event["namespace"] == NAMESPACE
        assert event["pod"]
    # Spin's readiness polls of /health are in there too.
    assert request_lines > len(requests_to_send("x"))


def test_each_request_sent_is_one_event_as_sent(served, remapped):
    events = [o["event"] for _, o in remapped if o["outcome"] == "emitted"]
    for req in served.sent:
        mine = [e for e in events if e["request_id"] == req.request_id]
        assert len(mine) == 1, (req, mine)
        got = {k: mine[0][k] for k in ("method", "path", "status", "batch_size")}
        assert got == {"method": req.method, "path": req.path, "status": req.status,
                       "batch_size": req.batch_size}, req.name


def test_the_other_lines_are_dropped(served, remapped):
    others = [(line, o) for line, o in remapped if request_line(line) is None]
    # Spin's own output: "Serving http://…", "Available Routes:", blank lines.
    assert any(line.startswith("Serving http://") for line, _ in others), others
    for line, outcome in others:
        assert outcome == {"line": outcome["line"], "outcome": "dropped", "reason": "abort",
                           "error": outcome["error"]}, (line, outcome)
    assert not [o for _, o in remapped if o["outcome"] == "passed_unmodified"]


def test_no_patient_value_in_any_event(served, remapped):
    events = [o["event"] for _, o in remapped if o["outcome"] == "emitted"]
    assert events
    smuggled = next(r for r in served.sent if r.caller_id == SMUGGLED_ID)
    assert re.fullmatch(r"[0-9a-f]{16}", smuggled.request_id), smuggled.request_id
    for event in events:
        text = json.dumps(event)
        assert not set(PATIENT) & set(event)
        for name in PATIENT:
            assert f'"{name}"' not in text, (name, event)
        assert "?" not in event["path"]
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", event["request_id"]), event
        # Fields whose digits are not chance (the id, the clock and the latency are checked by
        # format above): no distinctive patient value in them.
        plain = json.dumps({k: v for k, v in event.items()
                            if k not in ("request_id", "timestamp", "latency_ms")})
        assert not rare_values_in(plain), event


# ---------------------------------------------------------------------------------------------
# Malformed lines, and the configuration around the program
# ---------------------------------------------------------------------------------------------

def mutate(**changes) -> str:
    obj = json.loads(REAL_LINE)
    for k, v in changes.items():
        if v is ...:
            del obj[k]
        else:
            obj[k] = v
    return json.dumps(obj)


MALFORMED = {
    "truncated": REAL_LINE[:60],
    "not json": "heart-disease-api: starting",
    "empty": "",
    "array": "[" + REAL_LINE + "]",
    "json string": json.dumps(REAL_LINE),
    "other event": mutate(event="startup"),
    "no event": mutate(event=...),
    "status as string": mutate(status="422"),
    "status out of range": mutate(status=700),
    "missing status": mutate(status=...),
    "latency as string": mutate(latency_ms="0.08"),
    "negative latency": mutate(latency_ms=-1.0),
    "batch as float": mutate(batch_size=1.5),
    "negative batch": mutate(batch_size=-1),
    "missing request_id": mutate(request_id=...),
    "method not a string": mutate(method=1),
    "path is an object": mutate(path={"age": 71}),
    "container prefix": "2026-01-01T00:00:00.000000000Z stderr F " + REAL_LINE,
}


def test_malformed_lines_are_dropped(vrl_check):
    names = list(MALFORMED)
    outcomes = remap(vrl_check, [REAL_LINE] + [MALFORMED[n] for n in names])
    assert outcomes[0]["outcome"] == "emitted"
    assert outcomes[0]["event"]["status"] == 422
    assert outcomes[0]["event"]["status_class"] == "4xx"
    assert outcomes[0]["event"]["latency_ms"] == 0.087891
    for name, outcome in zip(names, outcomes[1:]):
        assert outcome["outcome"] == "dropped" and outcome["reason"] == "abort", (name, outcome)
        assert "event" not in outcome


def test_a_request_line_with_extra_fields_keeps_only_the_known_ones(vrl_check):
    [outcome] = remap(vrl_check, [mutate(age=71, body=PATIENT)])
    assert outcome["outcome"] == "emitted"
    assert set(outcome["event"]) == set(EVENT_FIELDS)
    assert "71" not in json.dumps({k: v for k, v in outcome["event"].items()
                                   if k not in ("timestamp", "latency_ms")})


def test_the_pipeline_is_wired_for_the_apps_pods_and_low_cardinality_labels():
    config = yaml.safe_load(VECTOR_YAML.read_text())
    chart_name = yaml.safe_load(CHART.read_text())["name"]
    source = config["sources"][SOURCE]
    assert source["type"] == "kubernetes_logs"
    # The label the chart puts on the app's pods ("heart-disease-api.labels", podLabels).
    assert source["extra_label_selector"] == f"app.kubernetes.io/name={chart_name}"
    helpers = (REPO / "helm/heart-disease-api/templates/_helpers.tpl").read_text()
    assert 'app.kubernetes.io/name: {{ include "heart-disease-api.name" . }}\n' in helpers
    transform = config["transforms"][TRANSFORM]
    assert transform["type"] == "remap" and transform["inputs"] == [SOURCE]
    assert transform["drop_on_abort"] is True and transform["drop_on_error"] is True
    sink = config["sinks"][SINK]
    assert sink["type"] == "loki" and sink["inputs"] == [TRANSFORM]
    assert sink["encoding"]["codec"] == "json"
    labels = sink["labels"]
    assert set(labels) == LOKI_LABELS
    for name, template in labels.items():
        fields = re.fullmatch(r"\{\{ *([a-z_]+) *\}\}", template)
        assert fields and fields.group(1) in EVENT_FIELDS, (name, template)
    # Every sink label names a field each emitted event has (checked with the real lines in
    # test_every_request_line_becomes_one_typed_event through EVENT_FIELDS).
    assert not {"request_id", "pod", "path", "latency_ms"} & set(labels)
