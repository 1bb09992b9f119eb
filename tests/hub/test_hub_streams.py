"""Streams through the hub (issue #25 item 2): what an upstream sends while it serves a call — progress, log messages,
sampling/elicitation/roots requests — reaches the client whose call caused it, on /mcp/<server> (the server's own
names) and on /mcp (prefixed names); a call is answered as JSON unless something else belongs to it; a call whose
upstream goes away mid-call fails at once.

Real parts: the hub process, the conformance fixture server (tests/hub/conformance/fixture_server.py, streamable
HTTP) as the upstream, the `mcp` SDK's streamable-HTTP client, raw HTTP for the wire format.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agentic.hub.client import HubClient
from agentic.stacks.ports import free_port

FIXTURE = Path(__file__).resolve().parent / "conformance" / "fixture_server.py"
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}




@contextlib.contextmanager
def fixture_server(python: str, *extra: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([python, str(FIXTURE), "--port", str(port), *extra], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the fixture server did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def hub(tmp_path_factory, hub_tools):
    with fixture_server(hub_tools.python, "--test-tools") as url:
        settings = hub_tools.write_settings(tmp_path_factory.mktemp("hub") / "mcp_settings.json", {
            "fx": {"type": "streamable-http", "url": url}})
        with hub_tools.running_hub(settings) as running:
            HubClient(running.url).wait_connected("fx", timeout=30)
            yield running


# (endpoint suffix, tool/prompt name prefix): /mcp/<server> names as the server does, /mcp prefixes them.
ROUTES = [pytest.param("/fx", "", id="per-server"), pytest.param("", "fx-", id="aggregate")]


async def _session(url: str, fn, **callbacks):
    async with streamable_http_client(url) as (read, write), ClientSession(read, write, **callbacks) as session:
        await session.initialize()
        return await fn(session)


def _text(result) -> str:
    return "".join(getattr(part, "text", "") for part in result.content)


@pytest.mark.parametrize("route, prefix", ROUTES)
async def test_progress_and_log_messages_reach_the_calling_client(hub, route, prefix):
    progress: list[tuple[float, float | None]] = []
    logs: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total))

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async def run(session: ClientSession):
        with anyio.fail_after(20):
            with warnings.catch_warnings():  # the SDK warns: logging is deprecated as of 2026-07-28
                warnings.simplefilter("ignore")
                await session.set_logging_level("debug")
            with_progress = await session.call_tool(prefix + "test_tool_with_progress", {},
                                                    progress_callback=on_progress)
            with_logs = await session.call_tool(prefix + "test_tool_with_logging", {})
        return with_progress, with_logs

    with_progress, with_logs = await _session(hub.mcp_url + route, run, logging_callback=on_log)
    assert not with_progress.is_error and not with_logs.is_error
    assert progress == [(0, 100), (50, 100), (100, 100)]  # under the client's own token, in order
    assert logs == ["Tool execution started", "Tool processing data", "Tool execution completed"]


@pytest.mark.parametrize("route, prefix", ROUTES)
async def test_sampling_and_elicitation_go_to_the_calling_client_and_back(hub, route, prefix):
    asked: list[str] = []

    async def sampling(context, params: types.CreateMessageRequestParams):
        asked.append(params.messages[0].content.text)
        return types.CreateMessageResult(role="assistant", model="test-model", stop_reason="endTurn",
                                         content=types.TextContent(type="text", text="forty-two"))

    async def elicitation(context, params):
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"username": "ada", "email": "ada@example.com"})

    async def run(session: ClientSession):
        with anyio.fail_after(20):
            return (await session.call_tool(prefix + "test_sampling", {"prompt": "the answer?"}),
                    await session.call_tool(prefix + "test_elicitation", {"message": "who are you?"}))

    sampled, elicited = await _session(hub.mcp_url + route, run, sampling_callback=sampling,
                                       elicitation_callback=elicitation)
    assert asked == ["the answer?", "who are you?"]
    assert _text(sampled) == "LLM response: forty-two"
    assert "action=accept" in _text(elicited) and "ada@example.com" in _text(elicited)


async def test_a_client_without_the_capability_is_not_asked_and_the_call_ends(hub):
    async def run(session: ClientSession):
        started = time.monotonic()
        with anyio.fail_after(20), pytest.raises(MCPError) as refused:
            await session.call_tool("test_sampling", {"prompt": "x"})
        return refused.value, time.monotonic() - started

    # No sampling callback: no sampling capability. The hub refuses the upstream's request at once; the fixture
    # fails its tool with that error, which reaches the client as the upstream sent it.
    refused, took = await _session(hub.mcp_url + "/fx", run)
    assert "did not declare" in refused.message
    assert took < 5


def _post(client: httpx.Client, url: str, session_id: str, body: dict, accept: str | None = None) -> httpx.Response:
    headers = {**HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}
    if accept is not None:
        headers["accept"] = accept
    return client.post(url, headers=headers, json=body)


def _open(client: httpx.Client, url: str, capabilities: dict | None = None) -> str:
    opened = client.post(url, headers=HEADERS, json={
        "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": capabilities or {},
            "clientInfo": {"name": "raw", "version": "1"}}})
    assert opened.status_code == 200, opened.text
    session_id = opened.headers["mcp-session-id"]
    _post(client, url, session_id, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    return session_id


def _call(request_id: int, name: str, token: str | None = None) -> dict:
    params: dict = {"name": name, "arguments": {}}
    if token is not None:
        params["_meta"] = {"progressToken": token}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def _events(body: str) -> list[dict]:
    return [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:") and line[5:].strip()]


# A client that declares nothing the upstream could ask has a JSON-mode session (the relay writes into the answer);
# one that declares sampling has an SSE-mode session (the SDK's back-channel, answers held until their first event).
@pytest.mark.parametrize("capabilities", [{}, {"sampling": {}}], ids=["json-session", "sse-session"])
def test_json_unless_the_call_streams(hub, capabilities):
    url = hub.mcp_url + "/fx"
    with httpx.Client(timeout=20) as client:
        session_id = _open(client, url, capabilities)
        plain = _post(client, url, session_id, _call(1, "test_simple_text"))
        streamed = _post(client, url, session_id, _call(2, "test_tool_with_progress", token="tok"))
        unasked = _post(client, url, session_id, _call(3, "test_tool_with_progress"))  # no token: nothing to say
        json_only = _post(client, url, session_id, _call(4, "test_tool_with_progress", token="t4"),
                          accept="application/json")
    assert plain.headers["content-type"] == "application/json"
    assert plain.json()["result"]["content"][0]["text"] == "This is a simple text response for testing."
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.headers["mcp-session-id"] == session_id
    events = _events(streamed.text)
    assert [e["params"]["progress"] for e in events[:-1]] == [0, 50, 100]
    assert {e["params"]["progressToken"] for e in events[:-1]} == {"tok"}
    assert events[-1]["id"] == 2 and "result" in events[-1]
    assert unasked.headers["content-type"] == "application/json" and unasked.json()["id"] == 3
    # A client that takes JSON only gets the result as JSON; the progress had no wire.
    assert json_only.headers["content-type"] == "application/json" and json_only.json()["id"] == 4


@pytest.mark.parametrize("kind", ["streamable-http", "stdio"])
def test_a_call_fails_at_once_when_its_upstream_goes_away(tmp_path, hub_tools, kind):
    with contextlib.ExitStack() as stack:
        if kind == "stdio":
            config = {"type": "stdio", "command": hub_tools.python, "args": [str(FIXTURE), "--stdio", "--test-tools"]}
        else:
            config = {"type": kind, "url": stack.enter_context(fixture_server(hub_tools.python, "--test-tools"))}
        settings = hub_tools.write_settings(tmp_path / "mcp_settings.json", {
            "fx": {**config, "options": {"timeout": 60000}}})
        running = stack.enter_context(hub_tools.running_hub(settings))
        HubClient(running.url).wait_connected("fx", timeout=30)
        with httpx.Client(timeout=60) as client:
            session_id = _open(client, running.mcp_url)
            started = time.monotonic()
            answer = _post(client, running.mcp_url, session_id, _call(1, "fx-test_exit_mid_call"))
            took = time.monotonic() - started
    events = _events(answer.text) if answer.headers["content-type"].startswith("text/event-stream") else [answer.json()]
    result = events[-1]["result"]
    assert result["isError"] is True
    assert took < 10, f"the call took {took:.1f} s: the hub waited for its timeout instead of seeing the close"
