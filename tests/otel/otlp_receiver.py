"""A minimal OTLP/HTTP receiver for the tests: it keeps every export it is sent, decoded.

`Receiver()` is a context manager serving on 127.0.0.1:<free port> in a thread. It accepts
POST /v1/traces, /v1/metrics and /v1/logs with `application/x-protobuf` bodies (also
`application/json`, OTLP's JSON encoding), plain or `Content-Encoding: gzip`, decodes them with
the generated classes of `opentelemetry-proto`, and answers 200 with an empty response message of
the matching type, as a collector does. Anything it cannot decode is answered 400 and kept in
`errors`, so a test can fail on it.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

# OTLP/HTTP path -> (signal, request class, response class)
SIGNALS = {
    "/v1/traces": ("traces", ExportTraceServiceRequest, ExportTraceServiceResponse),
    "/v1/metrics": ("metrics", ExportMetricsServiceRequest, ExportMetricsServiceResponse),
    "/v1/logs": ("logs", ExportLogsServiceRequest, ExportLogsServiceResponse),
}


class Receiver:
    """Collects decoded exports in `exports[signal]` (a list of Export*ServiceRequest)."""

    def __init__(self) -> None:
        self.exports: dict[str, list] = {"traces": [], "metrics": [], "logs": []}
        # (path, content-type, content-encoding) of every POST, decoded or not.
        self.posts: list[tuple[str, str, str]] = []
        self.errors: list[str] = []
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver",
                                        daemon=True)

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def snapshot(self) -> dict[str, list]:
        with self._cond:
            return {k: list(v) for k, v in self.exports.items()}

    def wait_for(self, done: Callable[[dict[str, list]], bool], timeout: float) -> bool:
        """Waits until `done(snapshot)` is true (re-checked on every export) or `timeout` s
        pass; returns the last result."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if done({k: list(v) for k, v in self.exports.items()}):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))

    def _record(self, signal: str, message) -> None:
        with self._cond:
            self.exports[signal].append(message)
            self._cond.notify_all()

    def _error(self, text: str) -> None:
        with self._cond:
            self.errors.append(text)
            self._cond.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

            def _read_body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0]
                ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
                encoding = self.headers.get("Content-Encoding", "").strip().lower()
                body = self._read_body()
                with receiver._cond:
                    receiver.posts.append((path, ctype, encoding))
                if path not in SIGNALS:
                    receiver._error(f"POST to unknown path {self.path}")
                    self._answer(404, b"", "text/plain")
                    return
                signal, request_cls, response_cls = SIGNALS[path]
                try:
                    if encoding == "gzip":
                        body = gzip.decompress(body)
                    elif encoding == "deflate":
                        body = zlib.decompress(body)
                    elif encoding not in ("", "identity"):
                        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
                    message = request_cls()
                    if ctype == "application/x-protobuf":
                        message.ParseFromString(body)
                    elif ctype == "application/json":
                        json_format.Parse(body, message)
                    else:
                        raise ValueError(f"unsupported Content-Type {ctype!r}")
                except Exception as e:  # noqa: BLE001 - any decoding failure is a test failure
                    receiver._error(f"{path}: cannot decode ({ctype}, {encoding or 'plain'}): {e!r}")
                    self._answer(400, b"", "text/plain")
                    return
                receiver._record(signal, message)
                if ctype == "application/json":
                    self._answer(200, json_format.MessageToJson(response_cls()).encode(),
                                 "application/json")
                else:
                    self._answer(200, response_cls().SerializeToString(), "application/x-protobuf")

            def do_GET(self) -> None:
                self._answer(405, b"", "text/plain")

        return Handler
