"""Log context and the no-op path of tracing, without servers: ids on captured records, nothing set up when no
OTLP endpoint is configured."""

from __future__ import annotations

import asyncio
import logging

from opentelemetry import trace

from agentic import observability


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _capturing(name: str) -> Capture:
    handler = Capture()
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


async def test_every_record_of_a_run_carries_issue_run_and_session():
    product, prefect_run = _capturing("agentic.golive-test"), _capturing("prefect.flow_runs.golive-test")
    beat = asyncio.Event()

    async def heartbeat() -> None:  # started before the session exists, like the claim heartbeat
        await beat.wait()
        logging.getLogger("agentic.golive-test").info("heartbeat")

    async with observability.traced_run("https://github.com/acme/widgets/issues/7", "acme/widgets#7", "run-1"):
        task = asyncio.create_task(heartbeat())
        logging.getLogger("agentic.golive-test").info("before the session")
        # Prefect's run logger adds its own `flow_run_id` extra: no clash with ours.
        logging.getLogger("prefect.flow_runs.golive-test").info("prefect line", extra={"flow_run_id": "run-1"})
        observability.bind_session("sess-9")
        beat.set()
        await task
    logging.getLogger("agentic.golive-test").info("after the run")

    before, heartbeat_line, after = product.records
    assert (before.issue, before.run_id, before.jules_session_id) == ("acme/widgets#7", "run-1", "-")
    assert (heartbeat_line.issue, heartbeat_line.run_id, heartbeat_line.jules_session_id) == (
        "acme/widgets#7", "run-1", "sess-9")
    assert (after.issue, after.run_id, after.jules_session_id) == ("-", "-", "-")
    [line] = prefect_run.records
    assert line.issue == "acme/widgets#7" and line.flow_run_id == "run-1"
    formatted = logging.Formatter(observability.LOG_FORMAT).format(heartbeat_line)
    assert "[issue=acme/widgets#7 run=run-1 session=sess-9 trace=" in formatted


def test_nothing_is_set_up_without_an_endpoint():
    assert observability.configure_tracing("agentic-test", environ={}) is None
    assert not isinstance(trace.get_tracer_provider(), __import__("opentelemetry.sdk.trace").sdk.trace.TracerProvider)
    with observability.span("no-op") as span:
        assert not span.is_recording()
    assert observability.trace_labels() == {}
    assert observability.current_traceparent() is None


def test_the_endpoint_variables():
    assert observability.otlp_endpoint({}) is None
    assert observability.otlp_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == "http://c:4318"
    assert observability.otlp_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/v1/traces"}) == (
        "http://t/v1/traces")
