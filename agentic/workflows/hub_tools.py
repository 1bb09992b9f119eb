"""Call MCP tools through the hub from the flow's deterministic tasks.

The hub (ours or mcphub) exposes each tool as `<server>-<tool>`. `openapi` servers answer with one text content
holding the JSON response, or an error text `API call failed: <status> <reason> - <body>`. This module turns those
into Python values and typed errors, so Prefect retries only what is worth retrying (TransientError).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from agentic.errors import HubError, HubUnavailable, TransientError

_API_FAILURE = re.compile(r"API call failed:\s*(?P<status>\d{3})\b[^-]*(?:-\s*(?P<body>.*))?", re.DOTALL)


class ToolCallFailed(HubError):
    """A tool answered with an error. `status` is the upstream HTTP status when the tool wraps an HTTP API."""

    def __init__(self, tool: str, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(f"{tool}: {message}")
        self.tool = tool
        self.status = status
        self.body = body


class TransientToolFailure(ToolCallFailed, TransientError):
    """429 or 5xx from the upstream API, or a dropped connection: retry later."""


def _parse_failure(tool: str, text: str) -> ToolCallFailed:
    match = _API_FAILURE.search(text)
    if not match:
        return ToolCallFailed(tool, text.strip()[:500])
    status = int(match["status"])
    raw = (match["body"] or "").strip()
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw
    cls = TransientToolFailure if status == 429 or status >= 500 else ToolCallFailed
    return cls(tool, f"HTTP {status}: {_error_message(body)}", status=status, body=body)


def _error_message(body: Any) -> str:
    """Google (`{"error":{"message"}}`) and GitHub (`{"message"}`) error bodies -> their message."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            return f"{inner.get('status', '')} {inner['message']}".strip()
        if body.get("message"):
            return str(body["message"])
    return str(body)[:300]


class HubTools:
    """One MCP session to the hub, kept for the whole flow run (no reconnect per call)."""

    def __init__(self, session: ClientSession) -> None:
        self._session = session
        self.calls: Counter[str] = Counter()

    def calls_to(self, server: str) -> int:
        """Tool calls made to one hub server (e.g. Jules API calls per session, for the cost report)."""
        return sum(n for name, n in self.calls.items() if name.startswith(server + "-"))

    async def list_tool_names(self) -> list[str]:
        result = await self._session.list_tools()
        return [tool.name for tool in result.tools]

    async def call(self, tool: str, arguments: dict[str, Any] | None = None) -> Any:
        """Call `tool` and return its JSON result (or text when the result is not JSON)."""
        self.calls[tool] += 1
        try:
            result = await self._session.call_tool(tool, arguments or {})
        except (httpx2.TransportError, ConnectionError) as exc:
            raise HubUnavailable(f"hub connection lost while calling {tool}: {exc}") from exc
        text = "".join(getattr(part, "text", "") for part in result.content)
        if result.is_error:
            if "Unknown tool" in text or "not found" in text.lower() and "tool" in text.lower():
                raise ToolCallFailed(tool, f"the hub has no tool {tool!r}: {text.strip()[:200]}")
            raise _parse_failure(tool, text)
        if result.structured_content is not None and not text:
            return result.structured_content
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text


def _only_leaf(group: BaseExceptionGroup) -> BaseException | None:
    """The single exception inside nested groups (anyio wraps errors raised in the client's task group)."""
    leaves = list(_leaves(group))
    return leaves[0] if len(leaves) == 1 else None


def _leaves(exc: BaseException):
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


@contextlib.asynccontextmanager
async def connect_hub(mcp_url: str, token: str | None = None) -> AsyncIterator[HubTools]:
    """Open one streamable-HTTP MCP session to the hub's `/mcp`. Errors come out unwrapped and typed."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        async with (
            create_mcp_http_client(headers=headers) as http,
            streamable_http_client(mcp_url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield HubTools(session)
    except BaseExceptionGroup as group:
        leaf = _only_leaf(group)
        if isinstance(leaf, (httpx2.ConnectError, httpx2.ConnectTimeout)):
            raise HubUnavailable(f"MCP hub not reachable at {mcp_url}: {leaf}; start it with "
                                 "`ibt stacks run mcp-hub` or set MCP_SERVER_URL") from None
        if leaf is not None:
            raise leaf from None
        raise
