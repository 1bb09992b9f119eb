"""The real @modelcontextprotocol/server-github (npm, stdio) works against the simulator through the Node preload.

Started exactly as the hub will start it: `npx -y @modelcontextprotocol/server-github@2025.4.8` with
`node_env(GITHUB_API_URL)` + GITHUB_PERSONAL_ACCESS_TOKEN. The first run downloads the package (~30-60 s).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import httpx
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from agentic.sandbox.github import DEMO_SEED, node_env
from agentic.stacks.ports import free_port
from agentic.stacks.process import http_ok, start_process, stop_process, wait_until

NPM_SERVER = "@modelcontextprotocol/server-github@2025.4.8"
TOKEN = "sim-token-octo-maintainer"

pytestmark = pytest.mark.skipif(shutil.which("npx") is None, reason="needs Node.js (npx) on PATH")


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    """The simulator as a real process, started through its CLI."""
    port = free_port()
    log = tmp_path_factory.mktemp("github-sim") / "sim.log"
    proc = start_process([sys.executable, "-m", "agentic.sandbox.github", "--host", "127.0.0.1", "--port", str(port),
                          "--seed", str(DEMO_SEED)], log_path=log, cwd=Path(__file__).parents[2])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}/_sim/health"), timeout=30, what="GitHub simulator", proc=proc,
                   log_path=log)
        yield url
    finally:
        stop_process(proc)


def _json(result) -> object:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


@pytest.mark.timeout(240)
async def test_npm_github_mcp_server_against_simulator(simulator):
    params = StdioServerParameters(
        command="npx", args=["-y", NPM_SERVER],
        env={**node_env(simulator), "GITHUB_PERSONAL_ACCESS_TOKEN": TOKEN, "PATH": os.environ["PATH"]},
    )
    repo = {"owner": "acme", "repo": "widgets"}
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            assert {"get_issue", "add_issue_comment", "list_issues", "get_file_contents", "create_branch",
                    "create_pull_request", "get_pull_request"} <= tools

            issue = _json(await session.call_tool("get_issue", {**repo, "issue_number": 1}))
            assert issue["title"].startswith("slugify() leaves a trailing dash")

            comment = _json(await session.call_tool("add_issue_comment",
                                                    {**repo, "issue_number": 1, "body": "Handing this to Jules."}))
            bugs = _json(await session.call_tool("list_issues", {**repo, "state": "open", "labels": ["bug"]}))
            assert [i["number"] for i in bugs] == [1]

            source = _json(await session.call_tool("get_file_contents", {**repo, "path": "src/widgets/slugify.py"}))
            assert "def slugify" in source["content"]  # the npm server decodes base64 itself
            listing = _json(await session.call_tool("get_file_contents", {**repo, "path": "src"}))
            assert [e["path"] for e in listing] == ["src/widgets"]

            branch = _json(await session.call_tool("create_branch", {**repo, "branch": "jules/fix-trailing-dash"}))
            assert branch["ref"] == "refs/heads/jules/fix-trailing-dash"
            fixed = source["content"].replace("return slug[:max_length]", 'return slug[:max_length].strip("-")')
            _json(await session.call_tool("create_or_update_file", {
                **repo, "path": "src/widgets/slugify.py", "content": fixed, "message": "Strip trailing dashes",
                "branch": "jules/fix-trailing-dash"}))
            pr = _json(await session.call_tool("create_pull_request", {
                **repo, "title": "Fix trailing dash in slugify()", "body": "Fixes #1",
                "head": "jules/fix-trailing-dash", "base": "main"}))
            got = _json(await session.call_tool("get_pull_request", {**repo, "pull_number": pr["number"]}))
            assert got["head"]["ref"] == "jules/fix-trailing-dash" and got["base"]["ref"] == "main"
            listed = _json(await session.call_tool("list_pull_requests", {**repo, "state": "open"}))
            assert [p["number"] for p in listed] == [pr["number"]]
            status = _json(await session.call_tool("get_pull_request_status", {**repo, "pull_number": pr["number"]}))
            assert status["state"] == "pending" and status["sha"] == got["head"]["sha"]

            # The rest of the surface our flow may touch.
            commits = _json(await session.call_tool("list_commits", {**repo, "sha": "jules/fix-trailing-dash"}))
            assert commits[0]["commit"]["message"] == "Strip trailing dashes"
            found = _json(await session.call_tool("search_issues", {"q": "repo:acme/widgets is:issue separator"}))
            assert [i["number"] for i in found["items"]] == [2]
            code = _json(await session.call_tool("search_code", {"q": "repo:acme/widgets max_length"}))
            assert [i["path"] for i in code["items"]] == ["src/widgets/slugify.py"]
            new = _json(await session.call_tool("create_issue", {**repo, "title": "Docs: mention separator",
                                                                 "labels": ["enhancement"]}))
            closed = _json(await session.call_tool("update_issue", {**repo, "issue_number": new["number"],
                                                                    "state": "closed"}))
            assert closed["state"] == "closed" and closed["labels"][0]["name"] == "enhancement"
            # This server (MCP SDK 1.0.1) reports GitHub errors as JSON-RPC errors, not isError results.
            with pytest.raises(MCPError, match="Not Found"):
                await session.call_tool("get_issue", {**repo, "issue_number": 999})

    # The simulator's own state changed: the comment and the PR exist, and requests really arrived there.
    state = httpx.get(f"{simulator}/_sim/state").json()["repos"]["acme/widgets"]
    assert state["comments"][str(comment["id"])]["body"] == "Handing this to Jules."
    assert pr["number"] == 6  # issues 1-5 are seeded; PRs share the counter
    assert state["issues"]["6"]["pull"]["head_ref"] == "jules/fix-trailing-dash"
    counts = httpx.get(f"{simulator}/_sim/requests").json()["operations"]
    assert counts["createPullRequest"] == 1 and counts["createRef"] == 1 and counts["createIssueComment"] == 1
