"""The alert automations (stacks/prefect/automations/) applied to a real Prefect server by their command, and
fired by real runs: a failed run and a run stuck Running each send a notification through a Prefect notification
block (a custom webhook, received by a local HTTP server standing for Slack or a pager)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agentic.errors import BadIssueUrl

ROOT = Path(__file__).resolve().parents[2]
APPLY = ROOT / "stacks/prefect/automations/apply.py"
NAMES = ("jules-agent-workflow: run failed or crashed", "jules-agent-workflow: run stuck running")


def test_the_file_renders_to_valid_automations():
    from prefect.events.schemas.automations import AutomationCore

    sys.path.insert(0, str(APPLY.parent))
    try:
        from apply import render
    finally:
        sys.path.remove(str(APPLY.parent))
    specs = render(APPLY.with_name("alert-failed-or-stuck.yaml").read_text(),
                   "00000000-0000-0000-0000-000000000001", 3600)
    automations = [AutomationCore.model_validate(spec) for spec in specs]
    assert [a.name for a in automations] == list(NAMES)
    assert automations[1].trigger.within.total_seconds() == 3600
    assert "prefect.flow-run.Paused" in automations[1].trigger.expect  # waiting for approval is not stuck


@pytest.fixture
def inbox():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alert", received
    server.shutdown()
    server.server_close()


async def _wait_for(received: list[dict], text: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in received:
            if text in json.dumps(message):
                return message
        await asyncio.sleep(0.5)
    raise AssertionError(f"no alert mentioning {text!r}; got {received}")


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_failed_and_stuck_runs_alert(prefect_api_url, inbox):
    from prefect import flow, get_client
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from agentic.workflows.jules_workflow import jules_agent_workflow

    url, received = inbox
    await CustomWebhookNotificationBlock(
        name="golive", url=url, json_data={"subject": "{{subject}}", "body": "{{body}}"},
        allow_private_urls=True).save("golive-alerts", overwrite=True)
    proc = subprocess.run([sys.executable, str(APPLY), "--notify", "custom-webhook/golive-alerts",
                           "--stuck-minutes", "0.17"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("applied: ") == 2
    again = subprocess.run([sys.executable, str(APPLY), "--notify", "custom-webhook/golive-alerts",
                            "--stuck-minutes", "0.17"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    try:
        async with get_client() as client:
            for name in NAMES:  # re-applying replaced them
                assert len(await client.read_automations_by_name(name)) == 1

        # A failed run of the product's flow (a bad URL fails before any side effect).
        with pytest.raises(BadIssueUrl):
            await jules_agent_workflow(github_issue_url="https://github.com/acme/widgets/pull/1")
        failed = await _wait_for(received, "is Failed")
        assert "https://github.com/acme/widgets/pull/1" in failed["body"]

        # A run that stays Running past the threshold (10 s here) without pausing.
        @flow(name="jules-agent-workflow")
        async def slow(github_issue_url: str) -> None:
            for _ in range(120):
                if any("stuck Running" in json.dumps(m) for m in received):
                    return
                await asyncio.sleep(0.5)

        await slow(github_issue_url="https://github.com/acme/widgets/issues/424242")
        stuck = await _wait_for(received, "stuck Running", timeout=5)
        assert "issues/424242" in stuck["body"]
    finally:
        async with get_client() as client:
            for name in NAMES:
                for automation in await client.read_automations_by_name(name):
                    await client.delete_automation(automation.id)


def test_an_unknown_block_is_one_clear_error(prefect_api_url):
    proc = subprocess.run([sys.executable, str(APPLY), "--notify", "custom-webhook/no-such-block"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no custom-webhook block named 'no-such-block'" in proc.stderr
