"""SSE only when the call has more to say than its result: ASGI in front of the SDK's streamable-HTTP handler.

The SDK answers every request POST with an SSE stream (so progress, log messages and the upstream's requests can
reach the client mid-call). Most answers are the result alone: `LazyStream` holds the stream's start until its
first event and, when that event is the result, answers with one JSON body instead (as a JSON-mode server would).
Anything else first (a notification, a request to the client) and the SSE stream goes out as it is.

A client that accepts only `application/json` (allowed before 2025-03-26's SSE rule; some scripts) is let through
to the SDK as if it took both, marked `JSON_ONLY` in the ASGI scope: it gets the result as JSON, what came before
is dropped (as the SDK's own JSON mode drops it), and the relay refuses the upstream's requests at once instead of
leaving them unanswered (agentic.hub.relay).
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_ONLY = "agentic.hub.json_only"   # ASGI scope key: the client takes no SSE
_SSE = b"text/event-stream"
_DROPPED_HEADERS = frozenset({b"content-type", b"cache-control", b"connection", b"x-accel-buffering",
                              b"content-length", b"transfer-encoding"})


class LazyStream:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        accept = b",".join(v for k, v in scope["headers"] if k == b"accept").lower()
        if _SSE not in accept and b"text/*" not in accept and b"*/*" not in accept:
            headers = [(k, v) for k, v in scope["headers"] if k != b"accept"]
            headers.append((b"accept", b"application/json, text/event-stream"))
            scope = {**scope, "headers": headers, JSON_ONLY: True}
        await self.app(scope, receive, _Answer(send, json_only=scope.get(JSON_ONLY, False)))


class _Answer:
    """The `send` of one POST: decides JSON or SSE on the stream's first complete event."""

    def __init__(self, send: Send, json_only: bool) -> None:
        self._send = send
        self._json_only = json_only
        self._start: Message | None = None   # the held SSE response start
        self._buffer = b""
        self._state = "new"                  # new -> holding -> (streaming | done)

    async def __call__(self, message: Message) -> None:
        if self._state == "streaming":
            await self._send(message)
            return
        if self._state == "done":
            return  # the JSON answer is out: the rest of the SSE stream (its end) has no wire
        if message["type"] == "http.response.start":
            if _content_type(message) == _SSE:
                self._start, self._state = message, "holding"
            else:
                self._state = "streaming"
                await self._send(message)
            return
        if message["type"] != "http.response.body" or self._state != "holding":
            await self._send(message)
            return
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
