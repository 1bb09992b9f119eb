"""The hub answers tools/list from a cache (issue #14): every change must show in the very next listing.

A real hub (`python -m agentic.hub`) with real stdio upstreams (`listing_upstream.py`, whose tool set can change),
driven through its REST API with httpx and listed through ONE long-lived `mcp` SDK session — the session an agent
holds, whose tools/list the cached fast path answers. A stale cache would keep showing the old tools: each test
waits (bounded) for the new listing, or checks it right after the change returned.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp_types import ToolListChangedNotification
from mcp.client.streamable_http import streamable_http_client

from agentic.hub.mcp_endpoint import _accepts_json, _listing_request_id

UPSTREAM = str(Path(__file__).resolve().parent / "listing_upstream.py")
WAIT = 30.0


def upstream(*args: str) -> dict:
    return {"type": "stdio", "command": sys.executable, "args": [UPSTREAM, *args]}


@pytest.fixture(scope="module")
def hub(tmp_path_factory, hub_tools):
    folder = tmp_path_factory.mktemp("listing-hub")
    settings = hub_tools.write_settings(folder / "mcp_settings.json", {"a": upstream("--tools", "2")})
    with hub_tools.running_hub(settings) as running:
        wait_connected(running.url, "a")
        running.folder = folder
        yield running


def wait_connected(base: str, name: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        info = httpx.get(f"{base}/api/servers/{name}", timeout=10).json()
        if info.get("data", {}).get("status") == "connected":
            return
        time.sleep(0.1)
    raise AssertionError(f"server {name} not connected: {info}")


def rest(method: str, url: str, body: dict | None = None) -> dict:
    response = httpx.request(method, url, json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


async def names(session: ClientSession) -> set[str]:
    return {t.name for t in (await session.list_tools()).tools}


async def until(session: ClientSession, check, what: str) -> set[str]:
    """List through the same session until `check(names)` holds: a stale cache never gets there."""
    deadline = time.monotonic() + WAIT
    while True:
        listed = await names(session)
        if check(listed):
            return listed
        if time.monotonic() > deadline:
            raise AssertionError(f"tools/list never showed {what}; it lists {sorted(listed)}")
        await anyio.sleep(0.1)


async def in_session(url: str, fn, **options):
    async with streamable_http_client(url) as (read, write), ClientSession(read, write, **options) as session:
        await session.initialize()
        return await fn(session)


def with_prefix(listed: set[str], prefix: str) -> set[str]:
    return {n for n in listed if n.startswith(prefix)}


async def test_added_updated_and_removed_server_and_a_new_separator(hub):
    told = anyio.Event()

    async def on_message(message) -> None:
        if isinstance(message, ToolListChangedNotification):
            told.set()

    async def run(session):
        assert "a-echo" in await names(session) and not with_prefix(await names(session), "b-")  # cache warm
        rest("POST", hub.url + "/api/servers", {"name": "b", "config": upstream("--tools", "1")})
        with anyio.fail_after(WAIT):  # the client is told to re-list (tools.listChanged)
            await told.wait()
        listed = await until(session, lambda n: "b-tool_00" in n, "the added server's tools")
        assert with_prefix(listed, "b-") == {"b-echo", "b-pid", "b-grow", "b-tool_00"}
        rest("PUT", hub.url + "/api/servers/b", {"config": upstream("--tools", "3")})
        await until(session, lambda n: "b-tool_02" in n, "b's tools after its config changed")
        rest("PUT", hub.url + "/api/system-config", {"nameSeparator": "__"})
        try:
            listed = await names(session)
            assert "b__tool_02" in listed and "b-tool_02" not in listed
        finally:
            rest("PUT", hub.url + "/api/system-config", {"nameSeparator": "-"})
        assert "b-tool_02" in await names(session)
        rest("DELETE", hub.url + "/api/servers/b")
        # Removal returns once the upstream is stopped: the next listing must already be without it.
        assert not with_prefix(await names(session), "b-")
        assert "a-echo" in await names(session)

    await in_session(hub.mcp_url, run, message_handler=on_message)


async def test_toggled_server(hub):
    async def run(session):
        assert "a-echo" in await names(session)
        rest("POST", hub.url + "/api/servers/a/toggle", {"enabled": False})
        assert not with_prefix(await names(session), "a-")
        rest("POST", hub.url + "/api/servers/a/toggle", {"enabled": True})
        await until(session, lambda n: "a-echo" in n, "the re-enabled server")

    await in_session(hub.mcp_url, run)


async def test_reloaded_and_restarted_server_with_new_tools(hub):
    names_file = hub.folder / "c-names.txt"
    names_file.write_text("first\n")

    async def run(session):
        await names(session)
        rest("POST", hub.url + "/api/servers", {"name": "c", "config": upstream("--names-file", str(names_file))})
        await until(session, lambda n: "c-first" in n, "c-first")
        names_file.write_text("second\n")
        rest("POST", hub.url + "/api/servers/c/reload")
        await until(session, lambda n: "c-second" in n and "c-first" not in n, "c-second after reload")
        # The upstream process dies: the hub reconnects on its own (backoff 1 s) to a process with new tools.
        pid = int((await session.call_tool("c-pid", {})).content[0].text)
        names_file.write_text("third\n")
        os.kill(pid, signal.SIGKILL)
        await until(session, lambda n: "c-third" in n and "c-second" not in n, "c-third after the restart")
        rest("DELETE", hub.url + "/api/servers/c")

    await in_session(hub.mcp_url, run)


async def test_upstream_announcing_new_tools(hub):
    async def run(session):
        assert "a-late" not in await names(session)
        result = await session.call_tool("a-grow", {"name": "late"})
        assert not result.is_error, result
        await until(session, lambda n: "a-late" in n, "a tool the upstream added (notifications/tools/list_changed)")

    await in_session(hub.mcp_url, run)


async def test_per_server_route_and_sdk_path_agree(hub):
    """/mcp/a is cached apart from /mcp; a request the fast path leaves to the SDK (a 70 kB body) gets the same
    listing; an unknown session still gets the SDK's 404."""
    a_only = await in_session(hub.mcp_url + "/a", names)
    assert a_only and not any(n.startswith("a-") for n in a_only)  # /mcp/<server>: the server's own names
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    with httpx.Client(timeout=30) as client:
        opened = client.post(hub.mcp_url, headers=headers, json={
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "1"}}})
        headers["mcp-session-id"] = opened.headers["mcp-session-id"]
        client.post(hub.mcp_url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        fast = client.post(hub.mcp_url, headers=headers, json={"jsonrpc": "2.0", "id": "x", "method": "tools/list"})
        padded = client.post(hub.mcp_url, headers=headers, json={
            "jsonrpc": "2.0", "id": "x", "method": "tools/list", "params": {"_meta": {"pad": "p" * 70_000}}})
        assert fast.status_code == padded.status_code == 200
        assert fast.headers["mcp-session-id"] == headers["mcp-session-id"]
        assert fast.json() == padded.json() and fast.json()["id"] == "x"
        assert {t["name"] for t in fast.json()["result"]["tools"]} >= {"a-" + n for n in a_only}
        stale = client.post(hub.mcp_url, headers={**headers, "mcp-session-id": "0" * 32},
                            json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert stale.status_code == 404


@pytest.mark.parametrize("body, expected", [
    (b'{"jsonrpc":"2.0","id":7,"method":"tools/list"}', 7),
    (b'{"jsonrpc":"2.0","id":"a\\"b","method":"tools/list","params":{"cursor":"c"}}', 'a"b'),
    (b'{"jsonrpc":"2.0","id":true,"method":"tools/list"}', None),        # bool is no JSON-RPC id
    (b'{"jsonrpc":"2.0","id":null,"method":"tools/list"}', None),
    (b'{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}', None),
    (b'{"jsonrpc":"2.0","method":"tools/list"}', None),                 # a notification
    (b'{"jsonrpc":"1.0","id":1,"method":"tools/list"}', None),
    (b'{"jsonrpc":"2.0","id":1,"method":"tools/call"}', None),
    (b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[]}', None),
    (b'{"jsonrpc":"2.0","id":1,"method":"tools/list","extra":1}', None),
    (b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]', None),        # a batch
    (b'{"jsonrpc":"2.0","id":1,', None),
])
def test_only_a_lone_wellformed_listing_request_is_answered_from_cache(body, expected):
    assert _listing_request_id(body) == expected


@pytest.mark.parametrize("accept, expected", [
    (b"application/json, text/event-stream", True), (b"*/*", True), (b"application/*;q=0.5", True),
    (b"Application/JSON", True), (b"text/event-stream", False), (b"", False), (b"application/jsonx", False),
])
def test_accept_header(accept, expected):
    assert _accepts_json(accept) is expected

