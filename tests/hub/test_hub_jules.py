"""The shipped jules.schema.json through the hub against the Jules simulator (mcphub's openapi convention).

Both in this process: the hub's openapi transport carries its calls to the simulator's ASGI app (the MCP hop from
a client to the hub is test_hub_mcp.py's)."""

from __future__ import annotations

import json

import httpx

from agentic.sandbox.jules import create_app
from agentic.sandbox.jules.config import JulesSimConfig, SourceConfig
from agentic.schemas import load_server_definition
from agentic.testing import environment
from agentic.testing.inprocess import hub_in_process

KEY = "jules-hub-test-key-0001"
JULES_URL = "http://127.0.0.1:9/v1alpha"   # loopback (the egress checks allow it); the transport answers


async def test_jules_tools_through_the_hub(tmp_path):
    simulator = create_app(JulesSimConfig(api_keys=[KEY], sources=[SourceConfig(owner="octo", repo="demo")]))
    definition = load_server_definition("jules")
    definition["config"]["openapi"]["baseUrl"] = JULES_URL      # the sandbox's switch (architecture.md)
    settings = tmp_path / "mcp_settings.json"
    transport = httpx.ASGITransport(app=simulator)
    try:
        # the security value is ${JULES_API_KEY}
        with environment({"JULES_API_KEY": KEY}), hub_in_process(settings, openapi_transport=transport) as hub:
            client = hub.client()
            assert client.upsert_server("jules", definition["config"]) == "added"
            client.wait_connected("jules", timeout=30)

            def call(tool: str, arguments: dict) -> dict:
                response = hub.http.post("/api/tools/call/jules", json={"toolName": tool, "arguments": arguments})
                return response.json()["data"]

            sources = call("jules-listSources", {})
            missing = call("jules-getSession", {"sessionId": "does-not-exist"})
            approve = call("jules-approvePlan", {"sessionId": "does-not-exist", "body": {}})
            listing = client.list_servers()
    finally:
        await simulator.state.simulator.aclose()
    assert not sources["isError"], sources["content"]
    names = [s["name"] for s in json.loads(sources["content"][0]["text"])["sources"]]
    assert "sources/github/octo/demo" in names
    assert missing["isError"] and missing["content"][0]["text"].startswith("API call failed: 404")
    assert approve["isError"] and "API call failed: 4" in approve["content"][0]["text"]   # custom-method path reached
    assert KEY not in json.dumps(listing)
