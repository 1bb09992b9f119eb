"""Traces and log context: one trace from the webhook to the pull request, and ids on every log line (issue #13).

Tracing is plain OpenTelemetry. Nothing is exported, and no SDK object is created, unless
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: until then `span()` runs on the
API's no-op tracer. When it is set, `configure_tracing()` installs a global `TracerProvider` exporting OTLP/HTTP;
Prefect's own run telemetry (flow- and task-run spans) and Pydantic AI's instrumentation (`Agent.instrument_all`)
then write into the same trace as our spans (hub calls, Jules operations, triage, the pull request).

Trace context crosses from the webhook receiver into the flow run as Prefect's own `__OTEL_TRACEPARENT` flow-run
label, the one Prefect's engine reads to parent a run's span: a W3C traceparent names a trace, it grants nothing,
so it may sit in a label; it is not a flow parameter (parameters are the run's inputs and part of its identity).

Log context: `traced_run()` / `bind_session()` fill a context variable that a log-record factory copies onto
every `logging` record, whichever library logs it: `issue`, `run_id` (the flow run's; not `flow_run_id`, which
Prefect's run loggers pass as an extra and a record may not have twice), `jules_session_id`, `trace_id`.
`LOG_FORMAT` prints them. The binding is one mutable object per run, so tasks started before the session existed
(the claim heartbeat) see the session id once it is known.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry import trace

TRACER_NAME = "agentic"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
LOG_FORMAT = ("%(asctime)s %(levelname)s %(name)s [issue=%(issue)s run=%(run_id)s session=%(jules_session_id)s "
              "trace=%(trace_id)s]: %(message)s")
UNSET = "-"

F = TypeVar("F", bound=Callable[..., Any])
tracer = trace.get_tracer(TRACER_NAME)
_provider: Any = None


# --- log context ---------------------------------------------------------------------------------------------------

@dataclass
class LogContext:
    issue: str = UNSET
    flow_run_id: str = UNSET
    jules_session_id: str = UNSET


_context: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar("agentic_log_context", default=None)


@contextlib.asynccontextmanager
async def traced_run(issue_url: str, issue: str, flow_run_id: str) -> AsyncIterator[trace.Span]:
    """The flow run's own span (issue URL, flow run id) and log context, both undone on exit."""
    token = _context.set(LogContext(issue=issue, flow_run_id=flow_run_id))
    try:
        with span("jules-agent-workflow", **{"issue.url": issue_url, "issue": issue,
                                             "prefect.flow_run.id": flow_run_id}) as s:
            yield s
    finally:
        _context.reset(token)


def bind_session(session_id: str | None) -> None:
    """Add the Jules session id to the current run's context (seen by every task of the run from now on)."""
    context = _context.get()
    if context is not None and session_id:
        context.jules_session_id = session_id
    if session_id:
        trace.get_current_span().set_attribute("jules.session_id", session_id)


def log_context() -> LogContext:
    return _context.get() or LogContext()


_base_factory = logging.getLogRecordFactory()


def _record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    context = _context.get()
    record.issue = context.issue if context else UNSET
    record.run_id = context.flow_run_id if context else UNSET
    record.jules_session_id = context.jules_session_id if context else UNSET
    span_context = trace.get_current_span().get_span_context()
    record.trace_id = format(span_context.trace_id, "032x") if span_context.is_valid else UNSET
    return record


def install_log_context() -> None:
    """Put the ids on every log record of this process (idempotent)."""
    if logging.getLogRecordFactory() is not _record_factory:
        logging.setLogRecordFactory(_record_factory)


install_log_context()


# --- tracing -------------------------------------------------------------------------------------------------------

def otlp_endpoint(environ: Any = None) -> str | None:
    environ = os.environ if environ is None else environ
    return next((environ[name] for name in ENDPOINT_VARIABLES if environ.get(name)), None)


def _environment() -> dict[str, str]:
    """The process environment over agentic/.env's OTEL_* and AGENTIC_OTEL_* lines (the CLIs read that file too)."""
    from dotenv import dotenv_values

    from agentic.settings import ENV_FILE

    from_file = {key: value for key, value in dotenv_values(ENV_FILE).items()
                 if value and key.upper().startswith(("OTEL_", "AGENTIC_OTEL_"))}
    return {**from_file, **os.environ}


def configure_tracing(service_name: str, *, include_content: bool | None = None, environ: Any = None) -> Any:
    """Export traces by OTLP/HTTP when an endpoint is configured; else do nothing and return None (idempotent).

    The endpoint comes from the environment or agentic/.env; the exporter reads the other standard
    OTEL_EXPORTER_OTLP_* variables (headers for a collector's token, certificate, timeout) from the environment.
    `include_content` (AGENTIC_OTEL_INCLUDE_CONTENT) adds prompts and model output to the agent's spans: off by
    default, as issue text of a private repository would leave for the collector."""
    global _provider
    environ = _environment() if environ is None else environ
    if _provider is not None or not otlp_endpoint(environ):
        return _provider
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from pydantic_ai import Agent
    from pydantic_ai.models.instrumented import InstrumentationSettings

    if include_content is None:
        include_content = environ.get("AGENTIC_OTEL_INCLUDE_CONTENT", "").lower() in ("1", "true", "yes")
    provider = TracerProvider(resource=Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME")
                                                        or service_name}))
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (
        environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    Agent.instrument_all(InstrumentationSettings(tracer_provider=provider, include_content=include_content,
                                                 include_binary_content=False))
    _provider = provider
    logging.getLogger("agentic").info("traces exported by OTLP to %s as %s", otlp_endpoint(environ), service_name)
    return provider


def flush(timeout_millis: int = 10_000) -> None:
    """Send the spans still buffered (end of a CLI run, tests)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis)


_OFF = contextlib.nullcontext(trace.INVALID_SPAN)


def tracing_on() -> bool:
    """A tracer provider is installed (ours, or one the embedding application set up)."""
    return _provider is not None or not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def span(name: str, **attributes: Any) -> contextlib.AbstractContextManager[trace.Span]:
    """A child span of the current one; exceptions are recorded and mark it as an error. Without a tracer provider,
    a shared null context: no OpenTelemetry call at all (bench/tracing_overhead.py)."""
    if not tracing_on():
        return _OFF
    return tracer.start_as_current_span(name, attributes={k: v for k, v in attributes.items() if v is not None})


def traced(name: str) -> Callable[[F], F]:
    """Wrap an async function in `span(name)`."""
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not tracing_on():
                return await fn(*args, **kwargs)
            with span(name):
                return await fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, or None when nothing is traced."""
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def trace_labels() -> dict[str, str]:
    """Flow-run labels that make a new run's span a child of the current one (Prefect's own label), or {}."""
    traceparent = current_traceparent()
    if not traceparent:
        return {}
    from prefect.telemetry.run_telemetry import LABELS_TRACEPARENT_KEY

    return {LABELS_TRACEPARENT_KEY: traceparent}
