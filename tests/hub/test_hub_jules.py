"""The shipped jules.schema.json through the hub against the Jules simulator (mcphub's openapi convention)."""

from __future__ import annotations

import json

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from agentic.hub.client import HubClient
from agentic.schemas import load_server_definition

KEY = "jules-hub-test-key-0001"


@pytest.fixture(scope="module")
def jules_sim():
    from agentic.sandbox.jules.config import JulesSimConfig, SourceConfig
    from agentic.sandbox.jules.testing import running_jules_simulator

    config = JulesSimConfig(api_keys=[KEY], sources=[SourceConfig(owner="octo", repo="demo")])
    with running_jules_simulator(config) as base:
        yield base


async def test_jules_tools_through_the_hub(tmp_path, hub_tools, jules_sim):
    definition = load_server_definition("jules")
    definition["config"]["openapi"]["baseUrl"] = jules_sim      # the sandbox's switch (architecture.md)
    settings = tmp_path / "mcp_settings.json"
    with hub_tools.running_hub(settings, env={"JULES_API_KEY": KEY}) as hub:  # security value is ${JULES_API_KEY}
        client = HubClient(hub.url)
        assert client.upsert_server("jules", definition["config"]) == "added"
        client.wait_connected("jules", timeout=30)
        async with streamable_http_client(hub.mcp_url) as (r, w), ClientSession(r, w) as session:
            await session.initialize()
            sources = await session.call_tool("jules-listSources", {})
            missing = await session.call_tool("jules-getSession", {"sessionId": "does-not-exist"})
            approve = await session.call_tool("jules-approvePlan", {"sessionId": "does-not-exist", "body": {}})
        assert not sources.is_error, sources.content
        names = [s["name"] for s in json.loads(sources.content[0].text)["sources"]]
        assert "sources/github/octo/demo" in names
        assert missing.is_error and missing.content[0].text.startswith("API call failed: 404")
        assert approve.is_error and "API call failed: 4" in approve.content[0].text   # custom-method path reached
        assert KEY not in json.dumps(client.list_servers())
