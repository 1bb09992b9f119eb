"""SSE only when a call has more to say than its result: ASGI in front of the SDK's streamable-HTTP handler.

Two kinds of session, chosen when the client initializes:
- a client that declared `sampling`, `elicitation` or `roots` may be asked something mid-call, which needs the SDK's
  request-scoped back-channel: its session is put in the SDK's SSE mode, and `_Answer` holds each SSE answer until
  its first event — when that is the result, the answer goes out as one JSON body instead;
- any other client (the flow's, most agents): the SDK's JSON mode, the cheaper path (no SSE machinery per call).
  Progress and log messages of its call are written by the relay into the POST's answer (`CHANNEL`), which turns
  into an SSE stream at the first of them; the SDK's JSON result then becomes the stream's last event.

A client that accepts only `application/json` gets the result as JSON and nothing else (marked `JSON_ONLY` in the
ASGI scope; in an SSE session it is let through as if it took both, and what precedes the result is dropped).
"""

from __future__ import annotations

import contextvars
from typing import Any

import anyio
import pydantic_core
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_ONLY = "agentic.hub.json_only"   # ASGI scope key: the client takes no SSE
_SSE = b"text/event-stream"
_DROPPED_HEADERS = frozenset({b"content-type", b"cache-control", b"connection", b"x-accel-buffering",
                              b"content-length", b"transfer-encoding"})
_ASKABLE = ("sampling", "elicitation", "roots")  # client capabilities that let an upstream ask the client
MAX_PEEK = 64 * 1024

# The answer of the POST being served, seen by the request's handler: the SDK runs it in a copy of the context of
# the task that read the POST.
CHANNEL: contextvars.ContextVar[_Answer | None] = contextvars.ContextVar("agentic_hub_answer", default=None)


class LazyStream:
    def __init__(self, app: ASGIApp, manager: Any) -> None:
        self.app = app
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        session_id = _header(scope, b"mcp-session-id")
        askable = None
        if session_id is None:  # an initialize: the client's capabilities choose the session's kind
            messages, body = await peek_body(receive)
            receive = replay(messages, receive)
            askable = _declares_askable(body)
        accept = (_header(scope, b"accept") or b"").lower()
        if _SSE not in accept and b"text/*" not in accept and b"*/*" not in accept:
            scope = {**scope, JSON_ONLY: True}
            if self._sse_session(session_id):  # the SDK's SSE mode wants both in Accept
                headers = [(k, v) for k, v in scope["headers"] if k != b"accept"]
                scope["headers"] = [*headers, (b"accept", b"application/json, text/event-stream")]
        answer = _Answer(send, bool(scope.get(JSON_ONLY)), session_id, self._set_mode if askable else None)
        token = CHANNEL.set(answer)
        try:
            await self.app(scope, receive, answer)
        finally:
            CHANNEL.reset(token)

    def _sse_session(self, session_id: bytes | None) -> bool:
        transport = self.manager._server_instances.get(session_id.decode("latin-1")) if session_id else None
        return transport is not None and not transport.is_json_response_enabled

    def _set_mode(self, session_id: str) -> None:
        transport = self.manager._server_instances.get(session_id)
        if transport is not None:
            transport.is_json_response_enabled = False  # before the client's next request: it awaits this answer


class _Answer:
    """The `send` of one POST, and the relay's channel into it (`notify`)."""

    def __init__(self, send: Send, json_only: bool, session_id: bytes | None, on_session: Any) -> None:
        self._send = send
        self._json_only = json_only
        self._session_id = session_id
        self._on_session = on_session        # initialize of an askable client: put its session in SSE mode
        self._start: Message | None = None   # a held response start
        self._buffer = b""
        self._state = "new"  # new -> (holding: SDK SSE | own: our SSE) -> (streaming | done)
        self._lock = anyio.Lock()

    async def __call__(self, message: Message) -> None:
        async with self._lock:
            await self._on_sdk(message)

    async def notify(self, message: dict[str, Any]) -> None:
        """A notification of the call (progress, a log message): starts the SSE answer if need be."""
        if self._json_only:
            return
        async with self._lock:
            if self._state == "new":
                headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache, no-transform")]
                if self._session_id is not None:
                    headers.append((b"mcp-session-id", self._session_id))
                self._state = "own"
                await self._send({"type": "http.response.start", "status": 200, "headers": headers})
            if self._state == "own":
                await self._send({"type": "http.response.body", "body": _event(pydantic_core.to_json(message)),
                                  "more_body": True})

    async def _on_sdk(self, message: Message) -> None:
        if self._state == "streaming":
            await self._send(message)
            return
        if self._state == "done":
            return  # the answer is out: the rest of the SDK's SSE stream (its end) has no wire
        if message["type"] == "http.response.start":
            if self._on_session is not None:
                session = dict(message.get("headers", [])).get(b"mcp-session-id")
                if session is not None:
                    self._on_session(session.decode("latin-1"))
            if self._state == "own":      # the SDK's JSON result: our stream's last event
                self._start = message
            elif _content_type(message) == _SSE:
                self._start, self._state = message, "holding"
            else:
                self._state = "streaming"
                await self._send(message)
            return
        if message["type"] != "http.response.body":
            await self._send(message)
            return
        if self._state == "own":
            self._buffer += message.get("body", b"")
            if not message.get("more_body", False):
                self._state = "done"
                await self._send({"type": "http.response.body", "body": _event(self._buffer)})
            return
        await self._on_sdk_sse(message)

    async def _on_sdk_sse(self, message: Message) -> None:
        self._buffer += message.get("body", b"")
        while True:
            event, rest = _split_event(self._buffer)
            if event is None:
                break
            self._buffer = rest
            data = _event_data(event)
            if data is None:
                continue  # a comment (keep-alive ping) or an event without data
            if _is_response(data):
                await self._answer_json(data)
                return
            if self._json_only:
                continue  # nothing but the result reaches a JSON-only client
            await self._stream(event + b"\r\n\r\n" + self._buffer, message.get("more_body", False))
            return
        if not message.get("more_body", False):  # the stream ended without a result: pass on what came
            await self._stream(self._buffer, False)

    async def _answer_json(self, data: bytes) -> None:
        assert self._start is not None
        headers = [(k, v) for k, v in self._start.get("headers", []) if k.lower() not in _DROPPED_HEADERS]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        self._state = "done"
        await self._send({"type": "http.response.start", "status": self._start["status"], "headers": headers})
        await self._send({"type": "http.response.body", "body": data})

    async def _stream(self, body: bytes, more: bool) -> None:
        assert self._start is not None
        self._state = "streaming"
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": body, "more_body": more})


def _event(data: bytes) -> bytes:
    return b"event: message\r\ndata: " + data + b"\r\n\r\n"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def _declares_askable(body: bytes | None) -> bool:
    try:
        message = pydantic_core.from_json(body) if body else None
    except ValueError:
        return False
    if not isinstance(message, dict) or message.get("method") != "initialize":
        return False
    capabilities = (message.get("params") or {}).get("capabilities") if isinstance(message.get("params"), dict) \
        else None
    return isinstance(capabilities, dict) and any(capabilities.get(k) is not None for k in _ASKABLE)


def _content_type(message: Message) -> bytes:
    for key, value in message.get("headers", []):
        if key.lower() == b"content-type":
            return value.split(b";")[0].strip().lower()
    return b""


def _split_event(buffer: bytes) -> tuple[bytes | None, bytes]:
    """The first complete SSE event (without its blank line) and the rest, or (None, buffer)."""
    best: tuple[int, int] | None = None
    for sep in (b"\r\n\r\n", b"\n\n", b"\r\r"):
        at = buffer.find(sep)
        if at != -1 and (best is None or at < best[0]):
            best = (at, len(sep))
    if best is None:
        return None, buffer
    return buffer[:best[0]], buffer[best[0] + best[1]:]


def _event_data(event: bytes) -> bytes | None:
    lines = [line[5:].removeprefix(b" ") for line in event.replace(b"\r\n", b"\n").split(b"\n")
             if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


def _is_response(data: bytes) -> bool:
    try:
        message: Any = pydantic_core.from_json(data)
    except ValueError:
        return False
    return isinstance(message, dict) and "method" not in message and ("result" in message or "error" in message)


async def peek_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The ASGI messages read, and the whole body if it is short (None if longer, or the client went away)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if size > MAX_PEEK:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` from the start again: the messages already read, then the rest of the stream."""
    pending = list(reversed(messages))

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
