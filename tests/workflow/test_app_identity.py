"""A whole run as a GitHub App whose installation tokens last less than the run (issue #23, must show).

The session's GitHub simulator learns an App (`issue-jules`, installed on acme, tokens living TOKEN_SECONDS); a
second hub process runs in App mode (GITHUB_APP_ID + key file, no GITHUB_TOKEN): it mints the installation token
of its `github` (npm, stdio) and `github-rest` servers and renews it while the flow runs. The run ends at the pull
request with one Jules session, no request was answered 401, the status comment is the app's bot's, and the stdio
server was restarted with a new token during the run and still answers after it, when its first token is long
expired.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from agentic.deployment.servers import hub_server_definitions
from agentic.hub.client import HubClient
from agentic.stacks.ports import free_port
from agentic.stacks.process import http_ok, start_process, stop_process, wait_until
from agentic.testing import environment
from agentic.workflows.jules_workflow import jules_agent_workflow
from tests.sandbox.test_github_apps import app_seed, new_key
from tests.workflow.test_e2e import ACTIONABLE_BODY, assert_completed_once, status_comments

pytestmark = pytest.mark.slow
TOKEN_SECONDS = 12  # renewed with 6 s left (time for the npm child to start): every ~6 s, several times per run
BOT = "issue-jules[bot]"


def _sim(sandbox, path: str) -> dict:
    return httpx.get(sandbox.github_url + path, timeout=10).json()


@pytest.fixture
def app_hub(sandbox, tmp_path):
    """The App on the simulator, and a hub in App mode with the product's servers; yields (hub URL, log path)."""
    private, public = new_key()
    key_file = tmp_path / "app.pem"
    key_file.write_text(private)
    httpx.post(f"{sandbox.github_url}/_sim/seed", params={"reset": "false"},
               json={"apps": [app_seed(public, token_seconds=TOKEN_SECONDS)]}, timeout=10).raise_for_status()
    app_env = {"GITHUB_APP_ID": "4242", "GITHUB_APP_PRIVATE_KEY_FILE": str(key_file), "GITHUB_TOKEN": ""}
    port, log = free_port(), tmp_path / "hub.log"
    proc = start_process([sys.executable, "-m", "agentic.hub", "--host", "127.0.0.1", "--port", str(port),
                          "--settings", str(tmp_path / "mcp_settings.json"), "--log-level", "info"],
                         env={**sandbox.env, **app_env, "GITHUB_APP_PRIVATE_KEY": ""}, log_path=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}/health"), timeout=60, what="app hub", proc=proc, log_path=log)
        with environment({**app_env, "MCP_SERVER_URL": url}):
            settings = sandbox.settings.model_copy(update={"github_token": None, "github_app_id": "4242",
                                                           "mcp_server_url": url})
            client = HubClient(url)
            for name, config in hub_server_definitions(settings).items():
                client.upsert_server(name, config)
            for name in hub_server_definitions(settings):
                client.wait_connected(name, timeout=180)
            yield url, log
    finally:
        stop_process(proc)


async def test_whole_run_as_an_app_with_tokens_shorter_than_the_run(sandbox, new_issue, app_hub):
    hub_url, hub_log = app_hub
    number, url = new_issue("slugify() leaves a trailing dash (as an App)", ACTIONABLE_BODY)
    unauthorized_before = _sim(sandbox, "/_sim/requests")["unauthorized"]
    # Jules answers listActivities 3 s late five times: the session phase alone outlasts a token, on any machine.
    jules = sandbox.jules_url.removesuffix("/v1alpha") + "/_sim/faults"
    httpx.post(jules, json={"faults": [{"kind": "latency", "seconds": 3, "count": 5, "route": "listActivities"}]},
               timeout=10).raise_for_status()
    log_at_start = len(hub_log.read_text())
    started = time.time()
    try:
        result = await jules_agent_workflow(github_issue_url=url)
    finally:
        httpx.delete(jules, timeout=10)
    finished = time.time()
    await asyncio.sleep(TOKEN_SECONDS * 0.6)  # the token the run ended with has been renewed meanwhile

    assert_completed_once(sandbox, number, result)
    (status,) = status_comments(sandbox, number)
    assert status["user"]["login"] == BOT and status["user"]["type"] == "Bot"
    assert _sim(sandbox, "/_sim/requests")["unauthorized"] == unauthorized_before  # no 401, not even retried

    tokens = _sim(sandbox, "/_sim/apps")["tokens"]
    minted = [t for t in tokens if started < t["minted_at"] < finished]
    assert finished - started > TOKEN_SECONDS and len(minted) >= 2, (finished - started, minted)
    rest = [t for t in minted if any("python-httpx" in ua for ua in t["uses"])]
    assert rest, minted  # github-rest's calls moved to a token minted within the run
    restarts = hub_log.read_text()[log_at_start:].count("GitHub App: github restarted with the new token")
    print(f"run {finished - started:.1f} s, {len(minted)} tokens minted during it, github-rest used "
          f"{len(rest)} of them, npm server restarted {restarts} times since the run started")
    assert restarts >= 1, hub_log.read_text()[-3000:]

    # The npm server answers with a renewed token: the one it had when the run started expired long ago.
    async with streamable_http_client(hub_url + "/mcp") as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        answer = await session.call_tool("github-get_issue", {"owner": "acme", "repo": "widgets",
                                                              "issue_number": number})
    assert not answer.is_error, answer.content
    assert json.loads(answer.content[0].text)["number"] == number
    assert _sim(sandbox, "/_sim/requests")["unauthorized"] == unauthorized_before
