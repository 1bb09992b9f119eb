"""One sandbox run, trigger to pull request, traced: the trigger creates the flow run with its trace context
(agentic/triggers/launch.py), a process executes it as a worker would (`prefect flow-run execute`) and exports
OTLP/HTTP to a local collector; the spans form one trace: trigger → flow run → triage (the agent's spans inside) →
Jules operations (hub calls inside) → pull request. The same run's console lines carry the issue, run and session ids
(stacks/production/prefect-logging.yml)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.golive.otlp_collector import running_collector

ROOT = Path(__file__).resolve().parents[2]
BODY = ("`slugify()` in `src/widgets/slugify.py` keeps a trailing dash when the name ends in punctuation: "
        "slugify('Hello!') returns 'hello-' instead of 'hello'.\n\n"
        "- [ ] no trailing dash for names ending in punctuation\n- [ ] a test covers 'Hello!'")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def _trigger(url: str, number: int, title: str, collector_url: str) -> tuple[str, str]:
    """What the webhook receiver does for an accepted trigger (agentic/triggers/launch.py), inside a span of this
    process's own tracer provider standing for the receiver's: the flow run is created with the trace context."""
    from opentelemetry import trace as otel
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from prefect import get_client

    from agentic.deployment.deploy import DEPLOYMENT_NAME, DEPLOYMENT_TAGS
    from agentic.triggers import Rules, idempotency_key
    from agentic.triggers.launch import launch
    from agentic.triggers.rules import Trigger
    from agentic.workflows.jules_workflow import FLOW_NAME, jules_agent_workflow

    await (await jules_agent_workflow.ato_deployment(name=DEPLOYMENT_NAME, tags=DEPLOYMENT_TAGS)).aapply()
    provider = TracerProvider(resource=Resource.create({"service.name": "agentic-triggers"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=collector_url + "/v1/traces")))
    trigger = Trigger(event="issues.labeled", kind="label", owner="acme", repo="widgets", number=number,
                      issue_url=url, title=title, body=BODY, sender="alice",
                      rules=Rules.model_validate({}).for_repo("acme/widgets"))
    with provider.get_tracer("test").start_as_current_span("github webhook") as span:
        async with get_client() as client:
            key = idempotency_key("https://api.github.com", "acme", "widgets", number, title, BODY)
            launched = await launch(client, f"{FLOW_NAME}/{DEPLOYMENT_NAME}", trigger, key)
    provider.shutdown()
    return launched.flow_run_id, format(span.get_span_context().trace_id, "032x")


async def test_one_run_is_one_trace_from_trigger_to_pull_request(sandbox, new_issue):
    number, url = new_issue("slugify() leaves a trailing dash (traced)", BODY)
    with sandbox.github() as gh:
        title = gh.get(f"/repos/acme/widgets/issues/{number}").json()["title"]
    with running_collector() as collector:
        flow_run_id, trigger_trace = await _trigger(url, number, title, collector.url)
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "200",
               "PREFECT_LOGGING_SETTINGS_PATH": str(ROOT / "stacks/production/prefect-logging.yml"),
               "PREFECT_LOGGING_LEVEL": "INFO"}
        # As a worker does: execute the run the trigger created, in its own process.
        proc = subprocess.run([sys.executable, "-m", "prefect", "flow-run", "execute", flow_run_id],
                              capture_output=True, text=True, timeout=480, env=env, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-3000:]
    from prefect import get_client

    async with get_client() as client:
        state = (await client.read_flow_run(flow_run_id)).state
    assert state.is_completed(), state
    Path("/tmp/golive-tracing-stderr.txt").write_text(proc.stderr) if os.environ.get("GOLIVE_DEBUG") else None
    # What the run did, read from the simulators: its one session and the pull request named on the issue.
    root_url = sandbox.jules_url.removesuffix("/v1alpha")
    [session] = [s for s in httpx.get(root_url + "/_sim/sessions", timeout=10).json()["sessions"]
                 if f"acme/widgets#{number}@" in (s.get("prompt") or "")]
    session_id = session["id"]
    with sandbox.github() as gh:
        pulls = [p for p in gh.get("/repos/acme/widgets/pulls", params={"state": "all", "per_page": 100}).json()
                 if re.search(rf"\b(?:Fixes|Closes) #{number}\b", p.get("body") or "")]
    assert len(pulls) == 1

    [run] = [s for s in collector.by_name("jules-agent-workflow") if s.attributes.get("issue.url") == url]
    assert run.attributes["issue"] == f"acme/widgets#{number}" and run.attributes["prefect.flow_run.id"]
    trace = [s for s in collector.spans if s.trace_id == run.trace_id]
    # One trace: the trigger's span → the flow run it created (Prefect's span, in the worker process) → ours.
    assert run.trace_id == trigger_trace
    [root] = [s for s in trace if not s.parent_id]
    assert root.name == "github webhook" and root.service == "agentic-triggers"
    [flow_span] = [s for s in trace if s.attributes.get("prefect.run.type") == "flow"]
    assert flow_span.attributes.get("prefect.run.id") == flow_run_id == run.attributes["prefect.flow_run.id"]
    assert flow_span in collector.descendants(root) and run in collector.children(flow_span)
    inside = collector.descendants(run)

    [triage] = [s for s in inside if s.name == "triage"]
    agent = collector.descendants(triage)
    assert any(s.name.startswith(("invoke_agent", "agent run")) for s in agent), sorted({s.name for s in agent})
    assert any(s.name.startswith("chat ") for s in agent), sorted({s.name for s in agent})
    # The agent's read-only GitHub tools (through the hub, by Pydantic AI's MCP toolset).
    names = sorted({s.name for s in agent})
    assert any(name.startswith(("execute_tool github-", "running tool")) for name in names), names

    [create] = [s for s in inside if s.name == "jules create_session"]
    assert create.attributes["jules.session_id"] == session_id
    assert any(s.name == "hub jules-createSession" for s in collector.descendants(create))
    follows = [s for s in inside if s.name in ("jules get_session", "jules list_activities")]
    assert follows and all(s.start >= create.start for s in follows)

    [pull] = [s for s in inside if s.name == "pull request"]
    assert pull.start > create.end and pull.end <= run.end
    assert any(s.name.startswith("hub github-") for s in collector.descendants(pull))
    assert {s.service for s in trace} == {"agentic-triggers", "agentic-flow"}

    # Every product line logged during the run names the issue and the run; from the session on, the session too.
    lines = [line for line in proc.stderr.splitlines() if re.search(r" - (triage|session|pull-request) ", line)]
    assert len(lines) >= 3, proc.stderr[-3000:]
    run_id = run.attributes["prefect.flow_run.id"]
    for line in lines:
        assert f"issue=acme/widgets#{number} run={run_id}" in line, line
        assert f"trace={run.trace_id}" in line, line
    assert all(f"session={session_id}" in line for line in lines if " - pull-request " in line)
