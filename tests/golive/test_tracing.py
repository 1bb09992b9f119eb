"""One sandbox run, issue to pull request, traced: the flow CLI process (as a worker runs it) exports OTLP/HTTP
to a local collector; the spans form one trace whose tree is flow run → triage (the agent's spans inside) → Jules
operations (hub calls inside) → pull request. The same run's console lines carry the issue, run and session ids
(stacks/production/prefect-logging.yml)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.golive.otlp_collector import running_collector

ROOT = Path(__file__).resolve().parents[2]
BODY = ("`slugify()` in `src/widgets/slugify.py` keeps a trailing dash when the name ends in punctuation: "
        "slugify('Hello!') returns 'hello-' instead of 'hello'.\n\n"
        "- [ ] no trailing dash for names ending in punctuation\n- [ ] a test covers 'Hello!'")

pytestmark = pytest.mark.slow


def test_one_run_is_one_trace_from_issue_to_pull_request(sandbox, new_issue):
    number, url = new_issue("slugify() leaves a trailing dash (traced)", BODY)
    with running_collector() as collector:
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "200",
               "PREFECT_LOGGING_SETTINGS_PATH": str(ROOT / "stacks/production/prefect-logging.yml"),
               "PREFECT_LOGGING_LEVEL": "INFO"}
        proc = subprocess.run([sys.executable, "-m", "agentic.workflows.jules_workflow", url], capture_output=True,
                              text=True, timeout=240, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
    result = __import__("json").loads(proc.stdout)
    session_id, pr_url = result["session_id"], result["pull_request_url"]

    [run] = [s for s in collector.by_name("jules-agent-workflow") if s.attributes.get("issue.url") == url]
    assert run.attributes["issue"] == f"acme/widgets#{number}" and run.attributes["prefect.flow_run.id"]
    trace = [s for s in collector.spans if s.trace_id == run.trace_id]
    # One trace, rooted in Prefect's flow-run span, which holds ours.
    [root] = [s for s in trace if not s.parent_id]
    assert root.attributes.get("prefect.run.type") == "flow"
    assert root.attributes.get("prefect.run.id") == run.attributes["prefect.flow_run.id"]
    assert run in collector.descendants(root)
    inside = collector.descendants(run)

    [triage] = [s for s in inside if s.name == "triage"]
    agent = collector.descendants(triage)
    assert any(s.name.startswith(("invoke_agent", "agent run")) for s in agent), sorted({s.name for s in agent})
    assert any(s.name.startswith("chat ") for s in agent), sorted({s.name for s in agent})
    # The agent's read-only GitHub tools (through the hub, by Pydantic AI's MCP toolset).
    assert any(s.name.startswith(("execute_tool github-", "running tool")) for s in agent), sorted({s.name for s in agent})

    [create] = [s for s in inside if s.name == "jules create_session"]
    assert create.attributes["jules.session_id"] == session_id
    assert any(s.name == "hub jules-createSession" for s in collector.descendants(create))
    follows = [s for s in inside if s.name in ("jules get_session", "jules list_activities")]
    assert follows and all(s.start >= create.start for s in follows)

    [pull] = [s for s in inside if s.name == "pull request"]
    assert pull.start > create.end and pull.end <= run.end
    assert any(s.name.startswith("hub github-") for s in collector.descendants(pull))
    assert {s.service for s in trace} == {"agentic-flow"}

    # Every product line logged during the run names the issue and the run; from the session on, the session too.
    lines = [line for line in proc.stderr.splitlines() if re.search(r" - (triage|session|pull-request) ", line)]
    assert len(lines) >= 3, proc.stderr[-3000:]
    run_id = run.attributes["prefect.flow_run.id"]
    for line in lines:
        assert f"issue=acme/widgets#{number} run={run_id}" in line, line
        assert f"trace={run.trace_id}" in line, line
    assert all(f"session={session_id}" in line for line in lines if " - pull-request " in line)
    assert pr_url in proc.stdout
