"""A tiny OTLP/HTTP trace collector for tests: POST /v1/traces (protobuf), decoded with opentelemetry-proto.

Faithful to the OTLP/HTTP spec in what the SDK exporter relies on: 200 with an (empty) ExportTraceServiceResponse,
protobuf in and out, 400 on a body that does not parse."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    start: int
    end: int
    service: str
    attributes: dict[str, Any]


@dataclass
class Collector:
    url: str
    spans: list[Span] = field(default_factory=list)

    def by_name(self, name: str) -> list[Span]:
        return [s for s in self.spans if s.name == name]

    def children(self, parent: Span) -> list[Span]:
        return [s for s in self.spans if s.parent_id == parent.span_id and s.trace_id == parent.trace_id]

    def descendants(self, parent: Span) -> list[Span]:
        out, todo = [], [parent]
        while todo:
            kids = self.children(todo.pop())
            out += kids
            todo += kids
        return out


@contextlib.contextmanager
def running_collector() -> Iterator[Collector]:
    spans: list[Span] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            request = ExportTraceServiceRequest()
            try:
                request.ParseFromString(body)
            except Exception:  # noqa: BLE001 - any parse failure is the client's
                self.send_response(400)
                self.end_headers()
                return
            got = []
            for resource_spans in request.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for s in scope_spans.spans:
                        got.append(Span(trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                                        parent_id=s.parent_span_id.hex(), name=s.name,
                                        start=s.start_time_unix_nano, end=s.end_time_unix_nano,
                                        service=str(resource.get("service.name")),
                                        attributes={a.key: _value(a.value) for a in s.attributes}))
            with lock:
                spans.extend(got)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Collector(url=f"http://127.0.0.1:{server.server_address[1]}", spans=spans)
    finally:
        server.shutdown()
        server.server_close()
