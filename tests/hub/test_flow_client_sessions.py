"""The flow's MCP client (`HubTools`) against the real hub app, in process, restarted between two calls.

MCP's streamable-HTTP rules: a server that answers 404 to a request carrying `Mcp-Session-Id` has forgotten the
session; the client must start a new one (a new initialize). The flow's calls are safe to repeat, so the call
that met the 404 is sent once more on the new session (issue #25 item 5: the run used to fail with
`MCPError: Session not found` after `ibt stacks restart mcp-hub`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentic.hub.app import create_app
from agentic.hub.client import HubClient
from agentic.stacks.ports import free_port
from agentic.hub.mcp_client import HubTools


@dataclass
class Seen:
    """One /mcp request as the hub answered it."""

    method: str
    session_id: str | None
    rpc_method: str | None
    status: int


@dataclass
class Recorder:
    """ASGI in front of the real hub app: records what reached /mcp. GET (the optional server-to-client stream)
    is answered 405, as MCP allows, so the 404 after a restart is met by the tool call itself, not the stream."""

    seen: list[Seen] = field(default_factory=list)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"] != "/mcp":
                await app(scope, receive, send)
                return
            headers = dict(scope["headers"])
            session_id = headers.get(b"mcp-session-id", b"").decode() or None
            if scope["method"] == "GET":
                await send({"type": "http.response.start", "status": 405, "headers": [(b"allow", b"POST, DELETE")]})
                await send({"type": "http.response.body", "body": b""})
                self.seen.append(Seen("GET", session_id, None, 405))
                return
            body = b""
            messages: list[Message] = []
            while True:
                message = await receive()
                messages.append(message)
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            rpc = json.loads(body) if body else {}
            entry = Seen(scope["method"], session_id, rpc.get("method") if isinstance(rpc, dict) else None, 0)
            self.seen.append(entry)

            async def replay() -> Message:
                return messages.pop(0) if messages else await receive()

            async def status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    entry.status = message["status"]
                await send(message)

            await app(scope, replay, status)

        return recorded


@contextlib.contextmanager
def serving(app: ASGIApp, port: int) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the hub app did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def echo_settings(path: Path, hub_tools) -> Path:
    return hub_tools.write_settings(path / "mcp_settings.json", {"echo": hub_tools.stdio_config()})


async def test_a_restarted_hub_gets_a_new_session_and_the_call_is_sent_once_more(tmp_path, hub_tools):
    settings, port, recorder = echo_settings(tmp_path, hub_tools), free_port(), Recorder()
    hub = HubTools(f"http://127.0.0.1:{port}/mcp", reconnect_seconds=10)
    with serving(recorder.wrap(create_app(settings)), port) as url:
        await asyncio.to_thread(HubClient(url).wait_connected, "echo", 30)
        await hub.connect(budget=10)
        assert await hub.call("echo-echo", {"text": "before"}) == "before"
    old = {s.session_id for s in recorder.seen if s.rpc_method == "tools/call"}
    recorder.seen.clear()
    try:
        # A new hub process on the same port: same URL, no memory of the session the client holds.
        with serving(recorder.wrap(create_app(settings)), port) as url:
            await asyncio.to_thread(HubClient(url).wait_connected, "echo", 30)
            assert await hub.call("echo-echo", {"text": "after"}) == "after"
            calls = [s for s in recorder.seen if s.rpc_method in ("tools/call", "initialize")]
    finally:
        await hub.close()
    (old_id,) = old
    new_ids = {s.session_id for s in calls if s.rpc_method == "tools/call"} - {old_id}
    # the old session's id -> 404; one new initialize; the same call once more, on the new session -> 200
    assert [(s.rpc_method, s.session_id == old_id, s.status) for s in calls] == [
        ("tools/call", True, 404), ("initialize", False, 200), ("tools/call", False, 200)]
    assert len(new_ids) == 1 and hub.reconnects == 1
    assert hub.calls["echo-echo"] == 3  # before, the one that met the 404, its one repeat


async def test_a_hub_that_forgets_the_new_session_too_is_transient_not_final(tmp_path, hub_tools):
    """Exactly one repeat: a hub that keeps forgetting sessions is HubUnavailable (retryable), not MCPError."""
    from agentic.errors import HubUnavailable

    settings, port = echo_settings(tmp_path, hub_tools), free_port()
    app = create_app(settings)

    def forgetful(inner: ASGIApp) -> ASGIApp:
        async def forget(scope: Scope, receive: Receive, send: Send) -> None:
            headers = dict(scope.get("headers") or [])
            if scope["type"] == "http" and scope["path"] == "/mcp" and scope["method"] == "GET":
                await send({"type": "http.response.start", "status": 405, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            if scope["type"] == "http" and scope["path"] == "/mcp" and b"mcp-session-id" in headers:
                body = (await receive()).get("body", b"")
                if b'"tools/call"' in body:  # the hub's own 404 reply for a session it does not know
                    payload = json.dumps({"jsonrpc": "2.0", "id": None, "error": {
                        "code": -32600, "message": "Session not found"}}).encode()
                    await send({"type": "http.response.start", "status": 404,
                                "headers": [(b"content-type", b"application/json")]})
                    await send({"type": "http.response.body", "body": payload})
                    return

                async def again() -> Message:
                    return {"type": "http.request", "body": body, "more_body": False}

                await inner(scope, again, send)
                return
            await inner(scope, receive, send)

        return forget

    hub = HubTools(f"http://127.0.0.1:{port}/mcp", reconnect_seconds=10)
    with serving(forgetful(app), port) as url:
        await asyncio.to_thread(HubClient(url).wait_connected, "echo", 30)
        await hub.connect(budget=10)
        try:
            try:
                await hub.call("echo-echo", {"text": "x"})
            except HubUnavailable as exc:
                assert "no longer knows our session" in str(exc)
            else:
                raise AssertionError("a call every session refuses succeeded")
            assert hub.calls["echo-echo"] == 2 and hub.reconnects == 1
        finally:
            await hub.close()


async def test_an_upstream_refusal_is_a_failed_call_for_the_flow(tmp_path, hub_tools):
    """The hub now passes an upstream's JSON-RPC error on (-32602 with data) instead of an `isError` text: the
    flow's client still sees a failed call (ToolCallFailed, not final-looking MCPError), with the upstream's words."""
    from agentic.errors import TransientError
    from agentic.hub.mcp_client import ToolCallFailed

    script = str(Path(hub_tools.upstream).with_name("feature_upstream.py"))
    settings = hub_tools.write_settings(tmp_path / "mcp_settings.json", {
        "feat": {"type": "stdio", "command": hub_tools.python, "args": [script, "feat"]}})
    port = free_port()
    hub = HubTools(f"http://127.0.0.1:{port}/mcp", reconnect_seconds=10)
    with serving(create_app(settings), port) as url:
        await asyncio.to_thread(HubClient(url).wait_connected, "feat", 30)
        await hub.connect(budget=10)
        try:
            try:
                await hub.call("feat-strict", {})
            except ToolCallFailed as exc:
                assert "strict wants nothing" in str(exc) and not isinstance(exc, TransientError)
            else:
                raise AssertionError("a refused call succeeded")
            assert await hub.call("feat-level", {}) == "unset"  # the session is still good
        finally:
            await hub.close()
