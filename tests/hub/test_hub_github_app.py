"""The hub as a GitHub App (agentic/hub/github_app.py): the real hub process mints the installation token of its
`github` (npm, stdio) and `github-rest` (openapi) servers from the App's key and renews it before it expires —
the simulator's tokens last 6 s here — while calls keep coming: none fails, none is answered 401, and both servers
are seen using several tokens (the stdio child restarted with each)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from agentic.deployment.servers import hub_server_definitions
from agentic.settings import Settings
from tests.sandbox.test_github_apps import demo_with_app, new_key, serving

pytestmark = pytest.mark.skipif(shutil.which("npx") is None, reason="npx not installed")
TOKEN_SECONDS = 10


def test_hub_renews_the_app_token_under_load(tmp_path, hub_tools):
    private, public = new_key()
    key_file = tmp_path / "app.pem"
    key_file.write_text(private)
    with serving(demo_with_app(public, token_seconds=TOKEN_SECONDS)) as github:
        settings = Settings(_env_file=None, github_app_id="4242", github_api_url=github,  # type: ignore[call-arg]
                            jules_api_key="unused")
        servers = {name: config for name, config in hub_server_definitions(settings).items() if "github" in name}
        assert servers["github"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] == "${GITHUB_TOKEN}"
        hub_tools.write_settings(tmp_path / "mcp_settings.json", servers)
        env = {"GITHUB_APP_ID": "4242", "GITHUB_APP_PRIVATE_KEY_FILE": str(key_file), "GITHUB_API_URL": github,
               "GITHUB_TOKEN": "", "GITHUB_APP_PRIVATE_KEY": "", "PREFECT_API_URL": ""}
        with hub_tools.running_hub(tmp_path / "mcp_settings.json", env=env) as hub:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                data = httpx.get(f"{hub.url}/api/servers").json()["data"]
                if all(s["status"] == "connected" for s in data):
                    break
                time.sleep(0.5)
            else:
                raise AssertionError(json.dumps(data)[:2000])
            results = asyncio.run(_calls_for(hub.mcp_url, seconds=2.5 * TOKEN_SECONDS))
        sim = httpx.get(f"{github}/_sim/apps").json()
        requests = httpx.get(f"{github}/_sim/requests").json()
    failures = [r for r in results if r.get("isError")]
    assert not failures, failures[:3]
    assert requests["unauthorized"] == {}
    npm = [t for t in sim["tokens"] if any("modelcontextprotocol" in ua for ua in t["uses"])]
    rest = [t for t in sim["tokens"] if any("python-httpx" in ua for ua in t["uses"])]
    assert len(npm) >= 3 and len(rest) >= 3, sim["tokens"]  # renewed every ~5 s over 25 s, both servers
    # The comment made through the hub is the app's bot's.
    assert any(r.get("author") == "issue-jules[bot]" for r in results)


async def _calls_for(url: str, seconds: float) -> list[dict]:
    """Four clients calling both servers' tools without pause for `seconds`."""
    results: list[dict] = []
    stop_at = time.monotonic() + seconds

    async def worker(n: int) -> None:
        async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            while time.monotonic() < stop_at:
                tool, args = (("github-get_issue", {"owner": "acme", "repo": "widgets", "issue_number": 1})
                              if n % 2 else
                              ("github-rest-getIssue", {"owner": "acme", "repo": "widgets", "issue_number": 1}))
                result = await session.call_tool(tool, args)
                results.append(result.model_dump(mode="json", by_alias=True))
            comment = await session.call_tool("github-add_issue_comment", {
                "owner": "acme", "repo": "widgets", "issue_number": 1, "body": f"from worker {n}"})
            text = comment.content[0].text if comment.content else "{}"
            results.append({"isError": comment.is_error, "author": (json.loads(text).get("user") or {}).get("login")
                            if not comment.is_error else text})

    await asyncio.gather(*(worker(n) for n in range(4)))
    return results
