"""The hub's input limits, and the ASGI middleware that enforces the request-body cap on `/api`.

Why a cap: an unbounded `POST /api/servers` body is stored in mcp_settings.json and echoed by every listing
(a 10 MB body made a 26 MB settings file, a 35 MB `GET /api/servers` and +137 MB of hub memory). mcphub caps
JSON bodies at 1 MB too (`systemConfig.routing.jsonBodyLimit`, default '1mb').

The cap is enforced before the route reads anything: a `Content-Length` above it is refused without reading a
byte, and a body without one (chunked) is counted while it streams in and refused as soon as it passes the cap.
At most `max_body_bytes` are ever held in memory. Refusal: 413 with mcphub's envelope `{success: false, message}`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 1024 * 1024          # agentic/github.schema.json, the largest definition we post, is ~190 KB
DEFAULT_MAX_OPENAPI_OPERATIONS = 500          # ours: github-rest 27, jules 10
DEFAULT_MAX_OPENAPI_BYTES = 16 * 1024 * 1024  # an `openapi.url` document (GitHub's full REST description is ~11 MB)
DEFAULT_MAX_SCHEMA_NODES = 100_000            # JSON nodes of the tool schemas, $refs inlined (github-rest: 1,200)


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_openapi_operations: int = DEFAULT_MAX_OPENAPI_OPERATIONS
    max_openapi_bytes: int = DEFAULT_MAX_OPENAPI_BYTES
    max_schema_nodes: int = DEFAULT_MAX_SCHEMA_NODES

    @classmethod
    def from_env(cls, max_body_bytes: int | None = None, max_openapi_operations: int | None = None) -> Limits:
        """Explicit values, else MCP_HUB_MAX_BODY_BYTES / MCP_HUB_MAX_OPENAPI_OPERATIONS, else the defaults."""
        return cls(max_body_bytes=_positive("max_body_bytes", max_body_bytes, "MCP_HUB_MAX_BODY_BYTES",
                                            DEFAULT_MAX_BODY_BYTES),
                   max_openapi_operations=_positive("max_openapi_operations", max_openapi_operations,
                                                    "MCP_HUB_MAX_OPENAPI_OPERATIONS",
                                                    DEFAULT_MAX_OPENAPI_OPERATIONS))


def _positive(what: str, value: int | None, env: str, default: int) -> int:
    from agentic.errors import ConfigError

    if value is None:
        raw = os.environ.get(env, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{env} must be a positive integer (got {raw[:40]!r})") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a positive integer (got {str(value)[:40]!r})")
    return value


def human_bytes(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KB"
    return f"{size} bytes"


class BodyLimitMiddleware:
    """Pure ASGI: caps the request body of every `/api` route at `max_bytes` (413), streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int, prefix: str = "/api") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return
        declared = None
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                declared = value
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            # Refused before reading: uvicorn never sends `100 Continue`, so curl does not even upload it.
            await self._too_large(send, int(declared))
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            total += len(body)
            if total > self.max_bytes:
                await self._too_large(send, None)
                return
            if body:
                chunks.append(body)
            if not message.get("more_body", False):
                break
        replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)

    async def _too_large(self, send: Send, declared: int | None) -> None:
        size = f" ({declared} bytes)" if declared is not None else ""
        message = (f"request body too large{size}: the limit is {human_bytes(self.max_bytes)} "
                   f"({self.max_bytes} bytes; --max-body-bytes / MCP_HUB_MAX_BODY_BYTES)")
        body = json.dumps({"success": False, "message": message}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
