"""OpenTelemetry, proven end to end: the component served by the real Spin (`spin up` on
spin.toml, tests/runtimes.py) exports traces, metrics and logs over OTLP/HTTP (protobuf, Spin's
default protocol) to a local receiver (otlp_receiver.py), and no patient value is in any of it.

One Spin run serves a known set of requests; the module's tests each check one part of what it
exported. What is asserted (span names and attributes, metric names, types and labels, the
resource) was read from a real export of Spin 3.6.3 first; README.md beside this file lists it.

Spin reads the OTel SDK's environment variables: OTEL_EXPORTER_OTLP_ENDPOINT (signal paths
/v1/traces, /v1/metrics, /v1/logs are appended) turns all three signals on;
OTEL_EXPORTER_OTLP_PROTOCOL defaults to http/protobuf; OTEL_BSP_SCHEDULE_DELAY (spans),
OTEL_BLRP_SCHEDULE_DELAY (logs) and OTEL_METRIC_EXPORT_INTERVAL (metrics) are shortened here so
the exports arrive within a second or two. Waits are bounded polls, never fixed sleeps.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import re
import secrets
import urllib.request
from dataclasses import dataclass, field

import pytest
import runtimes
from fixtures import RARE_PATIENT, RARE_VALUES, rare_values_in
from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from otlp_receiver import Receiver

EXPORT_TIMEOUT_S = 30
APP = "heart-disease-api"  # spin.toml: [application] name, and the component's id
SPIN_ROUTE = "/..."  # spin.toml: the one [[trigger.http]] route
FAST_EXPORT = {
    "OTEL_METRIC_EXPORT_INTERVAL": "1000",  # ms, metrics (default 60000)
    "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms, spans (default 5000)
    "OTEL_BLRP_SCHEDULE_DELAY": "200",  # ms, logs (default 1000)
}

# None of the rare patient's values may appear anywhere in the export.
PATIENT = RARE_PATIENT
BAD_PATIENT = {**PATIENT, "sex": "male", "cp": 5}  # answered 422

# (method, path, JSON body or None, expected status)
REQUESTS = [
    ("POST", "/predict", PATIENT, 200),
    ("POST", "/predict", PATIENT, 200),
    ("POST", "/predict", {"instances": [PATIENT, PATIENT]}, 200),
    ("GET", "/health", None, 200),
    ("POST", "/predict", BAD_PATIENT, 422),
    ("GET", "/no-such-path", None, 404),
]

# What Spin 3.6.3 exports (decoded from a real run; see README.md).
SPAN_SERVER_ATTRS = {"http.request.method", "http.response.status_code", "http.route", "url.path",
                     "url.query", "url.scheme", "network.peer.address", "network.peer.port",
                     "network.protocol.name", "code.filepath", "code.namespace", "code.lineno",
                     "busy_ns", "idle_ns"}
COMPONENT_SPAN = f"execute_wasm_component {APP}"
REQUEST_COUNT = "spin.request_count"
HISTOGRAMS = {"spin.component_cpu_time": "s", "spin.component_memory_used_on_init": "By",
              "spin.component_memory_used": "By"}


# ---------------------------------------------------------------------------------------------
# Running Spin against the receiver
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def spin_exporting_to(receiver: Receiver, runtime: str = "spin", **extra_env: str):
    """`spin up` of the component (`runtime`: spin, or spin-p3 for the wasi:http 0.3 build on
    Spin 4) with its OTLP exporter pointed at `receiver`."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, **FAST_EXPORT, **extra_env}
    with runtimes.serve(runtime, env=env) as server:
        yield server


@dataclass
class Sent:
    method: str
    path: str
    body: bytes | None
    status: int  # as the client saw it
    trace_id: str  # hex, from the traceparent we sent
    parent_span_id: str  # hex, ditto
    request_id: str  # x-request-id we sent (the component logs it)
    client_port: int  # our end of the connection: Spin's network.peer.port


def send(base: str, method: str, path: str, payload) -> Sent:
    """One request on its own connection, with a W3C traceparent (Spin continues the trace)
    and an x-request-id (the component writes it in its log line)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    request_id = f"otel-{secrets.token_hex(6)}"
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {"traceparent": f"00-{trace_id}-{parent}-01", "x-request-id": request_id}
    if body is not None:
        headers["content-type"] = "application/json"
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        client_port = conn.sock.getsockname()[1]
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    return Sent(method, path, body, response.status, trace_id, parent, request_id, client_port)


# ---------------------------------------------------------------------------------------------
# Reading the export
# ---------------------------------------------------------------------------------------------

def attrs(key_values) -> dict:
    """OTLP KeyValue list -> {key: python value}."""
    return {kv.key: any_value(kv.value) for kv in key_values}


def any_value(v: AnyValue):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attrs(v.kvlist_value.values)
    return getattr(v, kind) if kind else None


def spans(exports: dict) -> list[tuple[dict, Span]]:
    """(resource attributes, span) of every exported span."""
    return [(attrs(rs.resource.attributes), span)
            for req in exports["traces"] for rs in req.resource_spans
            for ss in rs.scope_spans for span in ss.spans]


def metrics(exports: dict) -> list[tuple[dict, object]]:
    """(resource attributes, metric) of every exported metric, in export order."""
    return [(attrs(rm.resource.attributes), m)
            for req in exports["metrics"] for rm in req.resource_metrics
            for sm in rm.scope_metrics for m in sm.metrics]


def log_records(exports: dict) -> list[tuple[dict, object]]:
    return [(attrs(rl.resource.attributes), rec)
            for req in exports["logs"] for rl in req.resource_logs
            for sl in rl.scope_logs for rec in sl.log_records]


def latest(exports: dict, name: str):
    """The most recent export of the metric `name` (all of Spin's are cumulative), or None."""
    found = [m for _, m in metrics(exports) if m.name == name]
    return found[-1] if found else None


def request_count(exports: dict) -> int:
    m = latest(exports, REQUEST_COUNT)
    return sum(p.as_int for p in m.sum.data_points) if m is not None else 0


def histogram_count(exports: dict, name: str) -> int:
    m = latest(exports, name)
    return sum(p.count for p in m.histogram.data_points) if m is not None else 0


def server_spans(exports: dict) -> list[Span]:
    return [s for _, s in spans(exports) if s.kind == Span.SPAN_KIND_SERVER]


def logged_request_ids(exports: dict) -> set[str]:
    ids = set()
    for _, rec in log_records(exports):
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            ids.add(json.loads(rec.body.string_value)["request_id"])
    return ids


def leaves(message: Message, path: str = ""):
    """Every string anywhere in an export message (names, attribute keys and values, log
    bodies, units, descriptions), and every value held by an AnyValue (attribute values, log
    bodies), numbers included: (path, value). Measurements and timestamps are not labels and
    are not visited."""
    in_any_value = message.DESCRIPTOR.full_name == AnyValue.DESCRIPTOR.full_name
    for fd, value in message.ListFields():
        items = list(value) if fd.is_repeated else [value]
        for i, item in enumerate(items):
            where = f"{path}.{fd.name}" + (f"[{i}]" if fd.is_repeated else "")
            if fd.type == fd.TYPE_MESSAGE:
                yield from leaves(item, where)
            elif fd.type == fd.TYPE_STRING:
                yield where, item
            elif in_any_value and fd.type == fd.TYPE_BYTES:
                yield where, item.decode("latin-1")
            elif in_any_value:
                yield where, item


def patient_values_in(value, bodies: list[str]) -> list[str]:
    """What of a patient's data `value` carries: a distinctive value as a number, as a number
    token in text (so 0.417 or a hex id do not count, "417" and "chol=417" do), or a request
    body's text."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [repr(value)] if value in RARE_VALUES else []
    return [b for b in bodies if b in value] + rare_values_in(value)


# ---------------------------------------------------------------------------------------------
# The run every test below reads
# ---------------------------------------------------------------------------------------------

@dataclass
class Run:
    sent: list[Sent] = field(default_factory=list)
    exports: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    posts: list = field(default_factory=list)
    complete: bool = False
    log: str = ""
    runtime: str = "spin"

    @property
    def reuses_instances(self) -> bool:
        """Spin 4 serves the wasi:http 0.3 build with one instance for many requests, so the
        per-instance histograms have fewer points than requests (one per instance dropped)."""
        return self.runtime in runtimes.P3


def everything_arrived(sent: list[Sent], reuses_instances: bool = False):
    trace_ids = {s.trace_id for s in sent}
    request_ids = {s.request_id for s in sent}

    def done(exports: dict) -> bool:
        served = server_spans(exports)
        if not trace_ids <= {s.trace_id.hex() for s in served}:
            return False
        if not request_ids <= logged_request_ids(exports):
            return False
        # Cumulative metrics caught up with every request Spin served (ours and the readiness
        # probe of runtimes.py), and every instance's histograms were recorded: one instance
        # per request for the 0.2 build; for the 0.3 build, at least the one instance that
        # served them (recorded when it is dropped, after Spin's 1 s idle timeout).
        counted = request_count(exports)
        enough = 1 if reuses_instances else counted
        return counted >= len(served) and all(
            histogram_count(exports, name) >= enough for name in HISTOGRAMS)

    return done


def exported(requests: list[tuple], runtime: str = "spin", until_metrics: bool = False,
             **env: str) -> Run:
    """`spin up` exporting to a local receiver: sends `requests` (method, path, body) and waits
    (bounded) until a span for each, and Spin's metrics if asked, have arrived."""
    runtimes.require(runtime)
    result = Run(runtime=runtime)
    with Receiver() as receiver:
        with spin_exporting_to(receiver, runtime, **env) as server:
            result.sent = [send(server.url, m, p, b) for m, p, b in requests]
            arrived = everything_arrived(result.sent, result.reuses_instances)
            done = (lambda e: arrived(e) and bool(e["metrics"])) if until_metrics else arrived
            result.complete = receiver.wait_for(done, EXPORT_TIMEOUT_S)
            result.log = runtimes.tail(server.log)
        result.exports = receiver.snapshot()
        result.errors = list(receiver.errors)
        result.posts = list(receiver.posts)
    return result


@pytest.fixture(scope="module", params=["spin", "spin-p3"])
def run(request) -> Run:
    """The export of one `spin up` run of REQUESTS: the wasi:http 0.2 build, then (Spin 4
    only) the 0.3 build."""
    return exported([(m, p, b) for m, p, b, _ in REQUESTS], request.param)


def summary(run: Run) -> str:
    return (f"receiver saw {len(run.posts)} POSTs {sorted(set(run.posts))}, errors {run.errors}, "
            f"{len(server_spans(run.exports))} server spans, request_count "
            f"{request_count(run.exports)}, logged ids {sorted(logged_request_ids(run.exports))}"
            f"\nspin log:\n{run.log}")


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

def test_requests_were_answered_as_expected(run: Run):
    assert [(s.method, s.path, s.status) for s in run.sent] == [
        (m, p, status) for m, p, _, status in REQUESTS]


def test_every_export_arrived_as_protobuf_and_decoded(run: Run):
    assert run.complete, f"not everything was exported within {EXPORT_TIMEOUT_S} s: {summary(run)}"
    assert not run.errors, run.errors
    assert {p for p, _, _ in run.posts} == {"/v1/traces", "/v1/metrics", "/v1/logs"}
    assert {c for _, c, _ in run.posts} == {"application/x-protobuf"}


def test_a_server_span_for_every_request(run: Run):
    assert run.complete, summary(run)
    served = server_spans(run.exports)
    for sent in run.sent:
        mine = [s for s in served if s.trace_id.hex() == sent.trace_id]
        assert len(mine) == 1, f"{sent.method} {sent.path}: {len(mine)} server spans"
        span = mine[0]
        a = attrs(span.attributes)
        # Spin continues the caller's W3C trace: our span id is the server span's parent.
        assert span.parent_span_id.hex() == sent.parent_span_id
        assert span.name == f"{sent.method} {SPIN_ROUTE}"
        assert SPAN_SERVER_ATTRS <= a.keys(), sorted(a)
        assert a["http.request.method"] == sent.method
        assert a["url.path"] == sent.path
        assert a["url.query"] == ""
        assert a["http.route"] == SPIN_ROUTE
        # Spin 3.6.3 exports the status code and the peer port as strings, not ints.
        assert a["http.response.status_code"] == str(sent.status)
        assert a["network.protocol.name"] == "http"
        assert a["network.peer.address"] == "127.0.0.1"
        assert a["network.peer.port"] == str(sent.client_port)
        assert "error.type" not in a
        # Spin sets an error status only when the handler fails (then 500); 2xx and 4xx answers
        # leave it unset, as OTel's HTTP semantic conventions say for server spans.
        assert span.status.code == Status.STATUS_CODE_UNSET, (sent.path, span.status)
        # The guest's execution is a child span of the request's.
        children = [s for _, s in spans(run.exports)
                    if s.trace_id == span.trace_id and s.parent_span_id == span.span_id]
        assert [(c.name, c.kind) for c in children] == [(COMPONENT_SPAN, Span.SPAN_KIND_INTERNAL)]


def test_request_count_metric_covers_every_request(run: Run):
    assert run.complete, summary(run)
    m = latest(run.exports, REQUEST_COUNT)
    assert m.WhichOneof("data") == "sum"
    assert m.sum.is_monotonic
    assert m.sum.aggregation_temporality == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    assert [attrs(p.attributes) for p in m.sum.data_points] == [
        {"trigger_type": "http", "app_id": APP, "component_id": APP}]
    assert all(p.WhichOneof("value") == "as_int" for p in m.sum.data_points)
    counted = request_count(run.exports)
    served = len(server_spans(run.exports))  # ours and runtimes.py's readiness probe(s)
    assert counted >= len(run.sent)
    assert counted == served, f"{REQUEST_COUNT} is {counted}, but Spin exported {served} server spans"


def test_component_histograms(run: Run):
    assert run.complete, summary(run)
    counted = request_count(run.exports)
    for name, unit_label in HISTOGRAMS.items():
        m = latest(run.exports, name)
        assert m is not None, name
        assert m.WhichOneof("data") == "histogram", name
        assert m.histogram.aggregation_temporality == \
            AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
        # Spin passes the unit as a label, not as the metric's unit field.
        assert m.unit == ""
        assert [attrs(p.attributes) for p in m.histogram.data_points] == [
            {"component_id": APP, "unit": unit_label}], name
        # One component instance per request for the 0.2 build; for the 0.3 build, Spin 4
        # reuses an instance, so there are fewer (at least one).
        if run.reuses_instances:
            assert 1 <= histogram_count(run.exports, name) <= counted, name
        else:
            assert histogram_count(run.exports, name) == counted, name


def test_app_logs_are_exported(run: Run):
    assert run.complete, summary(run)
    by_id = {}
    for _, rec in log_records(run.exports):
        line = json.loads(rec.body.string_value)
        by_id[line["request_id"]] = line
    for sent in run.sent:
        line = by_id[sent.request_id]
        assert (line["method"], line["path"], line["status"]) == (sent.method, sent.path, sent.status)


def test_resource_is_spin_on_every_signal(run: Run):
    assert run.complete, summary(run)
    resources = ([r for r, _ in spans(run.exports)] + [r for r, _ in metrics(run.exports)]
                 + [r for r, _ in log_records(run.exports)])
    assert resources
    for resource in resources:
        # Without OTEL_SERVICE_NAME Spin names the service "spin" (not the app: the app is the
        # request count's app_id label); service.version is Spin's own version.
        assert resource["service.name"] == "spin"
        # `x.y.z (commit date)`; a Spin built from a source tree without git metadata prints
        # placeholders in the parentheses.
        assert re.fullmatch(r"\d+\.\d+\.\d+ \(.+\)", resource["service.version"])
        assert resource["telemetry.sdk.name"] == "opentelemetry"
        assert resource["telemetry.sdk.language"] == "rust"
        assert set(resource) == {"service.name", "service.version", "telemetry.sdk.name",
                                 "telemetry.sdk.language", "telemetry.sdk.version"}


def test_no_patient_value_anywhere_in_the_export(run: Run):
    assert run.complete, summary(run)
    bodies = [s.body.decode() for s in run.sent if s.body]
    leaks = []
    checked = 0
    for signal, messages in run.exports.items():
        for i, message in enumerate(messages):
            for where, value in leaves(message):
                checked += 1
                for hit in patient_values_in(value, bodies):
                    leaks.append(f"{signal}[{i}]{where} = {value!r} carries {hit!r}")
    assert checked > 100  # the walk did see the export
    assert not leaks, "\n".join(leaks)


def test_the_leak_check_would_see_a_leak():
    """The search itself: it finds the values in the forms a leak would take, and does not
    mistake latencies or ids for them."""
    bodies = [json.dumps(PATIENT)]
    assert patient_values_in(417, bodies) == ["417"]
    assert patient_values_in(4.7, bodies) == ["4.7"]
    assert patient_values_in("chol=417", bodies) == ["417"]
    assert patient_values_in('{"trestbps":173.0}', bodies) == ["173.0"]
    assert patient_values_in(f"body: {bodies[0]}", bodies)[0] == bodies[0]
    assert patient_values_in('{"latency_ms":0.417,"request_id":"a417b173"}', bodies) == []
    assert patient_values_in(41, bodies) == [] and patient_values_in(True, bodies) == []


@pytest.fixture(scope="module")
def named_run() -> Run:
    """A second, short run with OTEL_SERVICE_NAME set, and one request whose query string
    carries a patient value (the component ignores queries; Spin's span does not)."""
    return exported([("GET", "/health?chol=417", None)], until_metrics=True,
                    OTEL_SERVICE_NAME=APP)


def test_service_name_comes_from_otel_service_name(named_run: Run):
    """What a deployment sets so that service.name identifies the app: Spin takes it from
    OTEL_SERVICE_NAME, for all three signals."""
    assert named_run.complete, summary(named_run)
    assert named_run.sent[0].status == 200
    names = ({r["service.name"] for r, _ in spans(named_run.exports)}
             | {r["service.name"] for r, _ in metrics(named_run.exports)}
             | {r["service.name"] for r, _ in log_records(named_run.exports)})
    assert names == {APP}


def test_the_leak_check_finds_a_query_string_in_a_real_export(named_run: Run):
    """The search finds a patient value where Spin really puts one: Spin exports the request's
    query string verbatim (url.query), so patient data must never travel in a URL. The
    component's own log line keeps only the path."""
    assert named_run.complete, summary(named_run)
    found = {where.rsplit(".", 2)[0]: value for signal, messages in named_run.exports.items()
             for message in messages for where, value in leaves(message)
             if patient_values_in(value, [])}
    assert found, "the query string's 417 was not found in the export"
    assert set(found.values()) == {"chol=417"}, found
    span = next(s for s in server_spans(named_run.exports)
                if s.trace_id.hex() == named_run.sent[0].trace_id)
    assert attrs(span.attributes)["url.query"] == "chol=417"
    # The component's own log lines: no patient value as a number token (a latency such as
    # 0.041762 is not 417).
    assert not [rec.body.string_value for _, rec in log_records(named_run.exports)
                if patient_values_in(rec.body.string_value, [])]


def test_receiver_answers_gzip_protobuf_like_a_collector():
    """The receiver decodes gzip-compressed protobuf and answers 200 with an empty
    ExportTraceServiceResponse (Spin 3.6.3 does not compress, but a collector must cope)."""
    export = ExportTraceServiceRequest()
    span = export.resource_spans.add().scope_spans.add().spans.add()
    span.name, span.trace_id, span.span_id = "probe", secrets.token_bytes(16), secrets.token_bytes(8)
    with Receiver() as receiver:
        req = urllib.request.Request(
            f"{receiver.endpoint}/v1/traces", data=gzip.compress(export.SerializeToString()),
            headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "application/x-protobuf"
            answer = ExportTraceServiceResponse.FromString(r.read())
        assert answer == ExportTraceServiceResponse()
        assert [s.name for _, s in spans(receiver.snapshot())] == ["probe"]
        assert not receiver.errors
