"""What a span costs the flow: tracing off (no endpoint, the default) and on (an SDK provider exporting in batches).

    .venv/bin/python bench/tracing_overhead.py [--calls 20000] [--rounds 7]

Each hub tool call and Jules operation of a run opens one span (`agentic.observability.span`). Three variants of
the same async call, interleaved round by round so machine load hits them alike: `baseline` (no span), `off`
(`observability.span` on the API's no-op tracer: what every run pays when OTEL_EXPORTER_OTLP_ENDPOINT is unset)
and `on` (a recording span from an SDK TracerProvider whose batch processor hands spans to an exporter that drops
them: the in-process cost without the network). Reports microseconds per call (median of the rounds) and the
extra cost of `off` and `on` over `baseline`; for scale, one hub tool call is milliseconds (docs/benchmarks.md,
MCP hub)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time


async def _call() -> int:
    await asyncio.sleep(0)
    return 1


async def main(calls: int, rounds: int) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from agentic import observability

    class Drop(SpanExporter):
        def export(self, spans):  # noqa: ANN001, ANN201 - SDK signature
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    recording = provider.get_tracer("bench")

    def baseline():
        return contextlib.nullcontext()

    def off():
        return observability.span("hub github-get_issue", **{"mcp.tool": "github-get_issue"})

    def on():
        return recording.start_as_current_span("hub github-get_issue", attributes={"mcp.tool": "github-get_issue"})

    variants = {"baseline": baseline, "off": off, "on": on}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, make in variants.items():
            started = time.perf_counter()
            for _ in range(calls):
                with make():
                    await _call()
            times[name].append((time.perf_counter() - started) / calls * 1e6)
    provider.shutdown()
    median = {name: statistics.median(values) for name, values in times.items()}
    for name in variants:
        print(f"{name:9s} {median[name]:7.2f} µs/call  (rounds: {', '.join(f'{v:.2f}' for v in times[name])})")
    print(f"off: +{median['off'] - median['baseline']:.2f} µs/call ({median['off'] / median['baseline']:.2f}x baseline)")
    print(f"on:  +{median['on'] - median['baseline']:.2f} µs/call ({median['on'] / median['baseline']:.2f}x baseline)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))
