"""Real MCP clients (the `mcp` SDK and the MCP Inspector CLI) list and call tools through the hub's /mcp.

Upstreams: a FastMCP stdio server, a FastMCP streamable-HTTP server and an `openapi` server for a sample API.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from agentic.hub.client import HubClient

API_KEY = "sekret-api-key-123"


@pytest.fixture(scope="module")
def hub(tmp_path_factory, hub_tools, http_upstream, sample_api):
    spec = httpx.get(sample_api + "/openapi.json").json()
    spec["servers"] = [{"url": "https://sample.invalid/v1"}]  # baseUrl below must win
    settings = hub_tools.write_settings(tmp_path_factory.mktemp("hub") / "mcp_settings.json", {
        "echo": hub_tools.stdio_config(),
        "remote": {"type": "streamable-http", "url": http_upstream},
        "sample": {"type": "openapi", "openapi": {
            "schema": spec, "baseUrl": sample_api + "/v1",
            "security": {"type": "apiKey", "apiKey": {"name": "X-Api-Key", "in": "header",
                                                      "value": "${SAMPLE_API_KEY}"}}}},
    })
    with hub_tools.running_hub(settings, env={"SAMPLE_API_KEY": API_KEY}) as running:
        client = HubClient(running.url)
        for name in ("echo", "remote", "sample"):
            client.wait_connected(name, timeout=30)
        yield running


async def _with_session(url: str, fn):
    async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return await fn(session)


def _text(result) -> str:
    return "".join(getattr(part, "text", "") for part in result.content)


async def test_sdk_client_lists_prefixed_tools_of_all_servers(hub):
    async def run(session):
        return sorted(t.name for t in (await session.list_tools()).tools)

    names = await _with_session(hub.mcp_url, run)
    for expected in ("echo-echo", "echo-add", "remote-echo", "remote-add", "sample-listItems", "sample-createItem",
                     "sample-getItem", "sample-approveItem", "sample-get_ping"):
        assert expected in names


async def test_sdk_client_calls_stdio_and_http_upstreams(hub):
    async def run(session):
        return (await session.call_tool("echo-echo", {"text": "via stdio"}),
                await session.call_tool("remote-add", {"a": 2, "b": 40}),
                await session.call_tool("remote-fail", {"message": "boom"}),
                await session.call_tool("nope-tool", {}))

    stdio, http, failing, unknown = await _with_session(hub.mcp_url, run)
    assert _text(stdio) == "via stdio" and not stdio.is_error
    assert _text(http) == "42" and not http.is_error
    assert failing.is_error and "boom" in _text(failing)
    assert unknown.is_error and "Unknown tool" in _text(unknown)


async def test_openapi_tools_follow_mcphub_calling_convention(hub):
    async def run(session):
        tools = {t.name: t for t in (await session.list_tools()).tools}
        return tools, [
            await session.call_tool("sample-getItem", {"itemId": "7"}),
            await session.call_tool("sample-listItems", {"pageSize": 5}),
            await session.call_tool("sample-createItem", {"body": {"title": "t1"}}),
            await session.call_tool("sample-approveItem", {"itemId": "9", "body": {}}),
            await session.call_tool("sample-getItem", {"itemId": "missing"}),
        ]

    tools, (got, listed, created, approved, missing) = await _with_session(hub.mcp_url, run)
    create_schema = tools["sample-createItem"].input_schema
    assert set(create_schema["properties"]) == {"body"} and create_schema["required"] == ["body"]
    assert create_schema["properties"]["body"]["properties"]["title"] == {"type": "string"}  # $ref inlined
    assert tools["sample-getItem"].input_schema["properties"]["itemId"]["type"] == "string"
    assert json.loads(_text(got)) == {"name": "items/7"}
    assert json.loads(_text(listed))["pageSize"] == "5"
    assert json.loads(_text(created))["echo"] == {"title": "t1"}
    assert json.loads(_text(approved)) == {"approved": "9", "body": {}}   # /items/{itemId}:approve
    assert missing.is_error
    assert _text(missing).startswith("API call failed: 404 Not Found - ")
    assert json.loads(_text(missing).split(" - ", 1)[1])["error"]["status"] == "NOT_FOUND"


async def test_per_server_endpoint_exposes_one_server(hub):
    async def run(session):
        names = [t.name for t in (await session.list_tools()).tools]
        return names, await session.call_tool("echo", {"text": "x"}), \
            await session.call_tool("remote-echo", {"text": "y"}), await session.call_tool("echo-echo", {"text": "x"})

    names, own, still_prefixed, other = await _with_session(hub.mcp_url + "/remote", run)
    assert "echo" in names and not any(n.startswith("remote-") for n in names)  # the server's own names (#25)
    assert _text(own) == "x"
    assert _text(still_prefixed) == "y"  # the /mcp name is still accepted there
    assert other.is_error  # a tool of another server is not reachable through /mcp/remote


def test_rest_tool_call_route(hub):
    response = httpx.post(hub.url + "/api/tools/call/echo", json={"toolName": "echo", "arguments": {"text": "r"}})
    assert response.status_code == 200
    assert response.json()["data"]["content"][0]["text"] == "r"


@pytest.mark.skipif(shutil.which("npx") is None, reason="npx not installed")
def test_mcp_inspector_cli_lists_and_calls_tools(hub):
    """A third-party client: the official MCP Inspector in CLI mode (TypeScript SDK)."""
    base = ["npx", "-y", "@modelcontextprotocol/inspector", "--cli", hub.mcp_url, "--transport", "http"]
    listed = subprocess.run([*base, "--method", "tools/list"], capture_output=True, text=True, timeout=180)
    assert listed.returncode == 0, listed.stderr
    names = {t["name"] for t in json.loads(listed.stdout)["tools"]}
    assert {"echo-echo", "remote-add", "sample-getItem"} <= names
    called = subprocess.run([*base, "--method", "tools/call", "--tool-name", "sample-getItem",
                             "--tool-arg", "itemId=abc"], capture_output=True, text=True, timeout=120)
    assert called.returncode == 0, called.stderr
    result = json.loads(called.stdout)
    assert not result.get("isError") and json.loads(result["content"][0]["text"]) == {"name": "items/abc"}


async def test_live_changes_reach_an_open_session(hub, hub_tools):
    """Add, toggle and delete a server while an MCP session is open: no restart, the list follows."""
    client = HubClient(hub.url)

    async def run(session):
        before = {t.name for t in (await session.list_tools()).tools}
        await anyio.to_thread.run_sync(lambda: (client.upsert_server("extra", hub_tools.stdio_config()),
                                                client.wait_connected("extra", timeout=30)))
        added = {t.name for t in (await session.list_tools()).tools}
        called = await session.call_tool("extra-add", {"a": 1, "b": 1})
        await anyio.to_thread.run_sync(lambda: client.toggle_server("extra", False))
        disabled = {t.name for t in (await session.list_tools()).tools}
        await anyio.to_thread.run_sync(lambda: client.delete_server("extra"))
        return before, added, called, disabled

    before, added, called, disabled = await _with_session(hub.mcp_url, run)
    assert "extra-add" not in before and "extra-add" in added
    assert _text(called) == "2"
    assert "extra-add" not in disabled and "echo-add" in disabled
    assert "extra" not in {s["name"] for s in client.list_servers()}


async def test_the_hub_marks_each_failure_retryable_or_final_and_the_flow_reads_the_mark(hub):
    """Our hub says in a failed call's `_meta` whether the call may succeed if sent again (agentic/hub/failures.py),
    with the upstream's HTTP status; the flow's client takes the class from that mark, not from the words."""
    from agentic.errors import TransientError
    from agentic.hub.failures import FAILURE_META
    from agentic.hub.mcp_client import HubTools, ToolCallFailed

    cases = {"missing": (False, 404), "busy": (True, 503), "limited": (True, 403), "forbidden": (False, 403)}

    async def run(session):
        results = {item: await session.call_tool("sample-getItem", {"itemId": item}) for item in cases}
        return results, await session.call_tool("sample-noSuchOperation", {})

    results, unknown = await _with_session(hub.mcp_url, run)
    for item, (retryable, status) in cases.items():
        assert results[item].is_error and results[item].meta == {FAILURE_META: {"retryable": retryable,
                                                                                "status": status}}, item
    assert unknown.is_error and unknown.meta == {FAILURE_META: {"retryable": False}}

    tools = HubTools(hub.mcp_url)
    await tools.connect(budget=10)
    try:
        for item, (retryable, status) in cases.items():
            try:
                await tools.call("sample-getItem", {"itemId": item})
            except ToolCallFailed as exc:
                assert (isinstance(exc, TransientError), exc.status) == (retryable, status), item
            else:
                raise AssertionError(f"{item}: the failed call succeeded")
        assert await tools.call("sample-getItem", {"itemId": "7"}) == {"name": "items/7"}
    finally:
        await tools.close()
