"""Call MCP tools through the hub from the flow's deterministic tasks, surviving the hub.

The hub (ours or mcphub) exposes each tool as `<server>-<tool>`. `openapi` servers answer with one text content
holding the JSON response, or an error text `API call failed: <status> <reason> - <body>`. This module turns those
into Python values and typed errors, so Prefect retries only what is worth retrying (TransientError).

Surviving the hub: the MCP session lives in its own asyncio task, so a dropped connection (hub restart, kill -9,
proxy reset) ends that task — not the flow's — and the next call opens a fresh session, waiting with backoff up to
`reconnect_seconds` while the hub is down. A call interrupted by the loss raises HubUnavailable (transient): the
caller's task retry decides whether repeating it is safe (every Jules and GitHub operation of the flow is written
to be idempotent on re-entry), so nothing is re-sent blindly here.

A hub that answers HTTP 404 to our `Mcp-Session-Id` (restarted, or it dropped the session) has forgotten the
session, not lost the call: MCP's streamable-HTTP rules say the client starts a new session (a new initialize).
The call is then sent once more on it (SessionExpired): the hub never ran it, and every call is safe to repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT
from mcp.shared.exceptions import MCPError

from agentic import observability
from agentic.errors import HubError, HubUnavailable, TransientError
from agentic.hub.failures import read_failure_meta, retryable_status

logger = logging.getLogger(__name__)
_API_FAILURE = re.compile(r"API call failed:\s*(?P<status>\d{3})\b[^-]*(?:-\s*(?P<body>.*))?", re.DOTALL)
# Hub texts (ours and mcphub's) for an upstream that is down or slow: worth retrying, never final.
_TRANSIENT_TEXT = re.compile(
    r"ReadTimeout|ConnectTimeout|ConnectError|timed? ?out|not connected|disconnected"
    r"|Connection (?:closed|reset|refused)"
    r"|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|temporarily unavailable|Service Unavailable"
    r"|RemoteProtocolError|ReadError|WriteError|peer closed|Server disconnected|incomplete (?:read|chunked)"
    r"|is (?:starting|restarting|reconnecting)", re.IGNORECASE)
_UNKNOWN_TOOL = re.compile(r"Unknown tool|Tool .{0,80}not found|No such tool|Server not found", re.IGNORECASE)
CONNECTION_CLOSED = -32000  # MCP SDK's code when the transport goes away mid-request
REQUEST_TIMEOUT = -32001    # MCP SDK's code when no answer came within the read timeout


class SessionExpired(HubUnavailable):
    """The hub answered 404 for our MCP session: it no longer knows it. Open a new session and send again."""


class ToolCallFailed(HubError):
    """A tool answered with an error. `status` is the upstream HTTP status when the tool wraps an HTTP API."""

    def __init__(self, tool: str, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(f"{tool}: {message}")
        self.tool = tool
        self.message = message
        self.status = status
        self.body = body


class TransientToolFailure(ToolCallFailed, TransientError):
    """429 or 5xx from the upstream API, an upstream the hub cannot reach right now, or a timeout: retry later."""


def classify_failure(tool: str, text: str, meta: Any = None) -> ToolCallFailed:
    """A failed tool call -> a typed failure. The hub's mark in `meta` (failures.py) decides retryable or final;
    without one (mcphub) the text does: HTTP status first, then unknown tool, then transient text."""
    failure = _classify_text(tool, text)
    mark = read_failure_meta(meta)
    if mark is None:
        return failure
    cls = TransientToolFailure if mark.retryable else ToolCallFailed
    status = mark.status if mark.status is not None else failure.status
    return cls(tool, failure.message, status=status, body=failure.body)


def _classify_text(tool: str, text: str) -> ToolCallFailed:
    if match := _API_FAILURE.search(text):
        status = int(match["status"])
        raw = (match["body"] or "").strip()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        cls = TransientToolFailure if retryable_status(status, raw) else ToolCallFailed
        return cls(tool, f"HTTP {status}: {_error_message(body)}", status=status, body=body)
    if _UNKNOWN_TOOL.search(text):
        return ToolCallFailed(tool, f"the hub has no tool {tool!r}: {text.strip()[:200]}")
    if _TRANSIENT_TEXT.search(text):
        return TransientToolFailure(tool, text.strip()[:300])
    return ToolCallFailed(tool, text.strip()[:500])


def resolve_tool_name(wanted: str, available: list[str] | set[str], separator: str = "-") -> str | None:
    """The hub's name for the tool we call `wanted` (`<server>-<tool>`), whatever the hub's naming.

    mcphub May 2025 lists tools bare (`get_issue` for `github-get_issue`); a hub reaching our servers through one
    bridge server adds its name in front (`agentic-openapi-jules-getSession`). Exact name first, else the one
    listed name that is `wanted` with a prefix added or a prefix dropped at a separator; the longest wins (the
    most specific), a tie is ambiguous (None)."""
    names = set(available)
    if wanted in names:
        return wanted
    candidates = sorted((name for name in names
                         if name.endswith(separator + wanted) or wanted.endswith(separator + name)),
                        key=len, reverse=True)
    if not candidates or (len(candidates) > 1 and len(candidates[0]) == len(candidates[1])):
        return None
    return candidates[0]


def _error_message(body: Any) -> str:
    """Google (`{"error":{"message"}}`) and GitHub (`{"message"}`) error bodies -> their message."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            return f"{inner.get('status', '')} {inner['message']}".strip()
        if body.get("message"):
            return str(body["message"])
    return str(body)[:300]


def _connection_lost(exc: BaseException) -> bool:
    if isinstance(exc, MCPError):
        return exc.error.code == CONNECTION_CLOSED
    return isinstance(exc, (httpx2.TransportError, ConnectionError, anyio.ClosedResourceError,
                            anyio.BrokenResourceError, anyio.EndOfStream, TimeoutError))


class _Connection:
    """One MCP session, entered and exited in its own task (anyio scopes must stay in one task)."""

    def __init__(self, url: str, headers: dict[str, str] | None, verify: ssl.SSLContext | bool = True) -> None:
        self.url, self.headers, self.verify = url, headers, verify
        self.session: ClientSession | None = None
        self.error: BaseException | None = None
        self.expired = False  # the hub answered 404 to a request carrying this session's id
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return (self.session is not None and self._task is not None and not self._task.done()
                and not self.expired)

    async def _seen(self, response: httpx2.Response) -> None:
        # MCP's streamable HTTP: a 404 to a request that carries the session id means the session is gone; the
        # SDK only turns it into a JSON-RPC error (-32600), so the status is read here, where it is still known.
        if response.status_code == 404 and "mcp-session-id" in response.request.headers:
            self.expired = True

    async def open(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"mcp-session {self.url}")
        await self._ready.wait()
        if not self.alive:
            raise self.error or HubUnavailable(f"MCP session to {self.url} ended at once")

    async def _run(self) -> None:
        try:
            async with (
                # create_mcp_http_client's timeouts, plus `verify` (a private CA: AGENTIC_CA_BUNDLE)
                httpx2.AsyncClient(headers=self.headers, verify=self.verify, timeout=httpx2.Timeout(
                    MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
                    event_hooks={"response": [self._seen]}) as http,
                streamable_http_client(self.url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                self.session = session
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # noqa: BLE001 - recorded; this task's death is the signal
            self.error = _leaf(exc)
            if isinstance(exc, asyncio.CancelledError) and self._stop.is_set():
                return
        finally:
            self.session = None
            self._ready.set()

    async def close(self) -> None:
        self._stop.set()
        if self._task and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            except (TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task


def _leaf(exc: BaseException) -> BaseException:
    """The single exception inside nested groups (anyio wraps errors raised in the client's task group)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class HubTools:
    """The flow's client of the hub: one MCP session at a time, re-opened after a loss."""

    def __init__(self, mcp_url: str, token: str | None = None, *, reconnect_seconds: float = 60.0,
                 call_timeout_seconds: float = 120.0, verify: ssl.SSLContext | bool = True) -> None:
        self.mcp_url = mcp_url
        self.verify = verify
        self._headers = {"Authorization": f"Bearer {token}"} if token else None
        self.reconnect_seconds = reconnect_seconds
        self.call_timeout_seconds = call_timeout_seconds
        self._conn: _Connection | None = None
        self._lock = asyncio.Lock()
        self.calls: Counter[str] = Counter()
        self.reconnects = 0
        self._answered: set[str] = set()  # tools that answered in this run
        self._hub_names: dict[str, str] = {}  # our tool name -> the hub's, where they differ (resolve_tool_name)

    def calls_to(self, server: str) -> int:
        """Tool calls made to one hub server (e.g. Jules API calls per session, for the cost report)."""
        return sum(n for name, n in self.calls.items() if name.startswith(server + "-"))

    async def connect(self, *, budget: float | None = None) -> None:
        """Open a session, retrying with backoff for `budget` seconds (default: `reconnect_seconds`)."""
        deadline = time.monotonic() + (self.reconnect_seconds if budget is None else budget)
        delay = 0.25
        while True:
            conn = _Connection(self.mcp_url, self._headers, self.verify)
            try:
                await conn.open()
                self._conn = conn
                return
            except BaseException as exc:  # classified below
                await conn.close()
                leaf = _leaf(exc)
                if isinstance(leaf, asyncio.CancelledError):
                    raise
                if isinstance(leaf, httpx2.HTTPStatusError) and leaf.response.status_code in (401, 403):
                    raise HubError(f"the MCP hub at {self.mcp_url} refused the token "
                                   f"(HTTP {leaf.response.status_code}): set MCP_HUB_TOKEN") from None
                if time.monotonic() + delay > deadline:
                    raise HubUnavailable(f"MCP hub not reachable at {self.mcp_url}: {type(leaf).__name__}: "
                                         f"{str(leaf)[:200]}; start it with `ibt stacks run mcp-hub` or set "
                                         "MCP_SERVER_URL") from None
                logger.info("MCP hub at %s not reachable (%s); retrying in %.1fs", self.mcp_url,
                            type(leaf).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _session(self) -> _Connection:
        async with self._lock:
            if self._conn is None or not self._conn.alive:
                if self._conn is not None:
                    if self._conn.expired:
                        logger.warning("the MCP hub no longer knows our session (HTTP 404); starting a new one")
                    else:
                        logger.warning("MCP session to the hub lost (%s); reconnecting", self._conn.error)
                    await self._conn.close()
                    self.reconnects += 1
                await self.connect()
            assert self._conn is not None and self._conn.session is not None
            return self._conn

    async def _lost(self, conn: _Connection, exc: Exception, what: str) -> None:
        """Raise the transient error for a request that failed with the connection, else return (not ours)."""
        if conn.expired:
            # Closed here, not by whoever reconnects: this connection, never a newer one another call opened.
            await conn.close()
            raise SessionExpired(f"the MCP hub no longer knows our session (HTTP 404) while {what}") from exc
        if _connection_lost(exc):
            await conn.close()  # the next call reconnects
            raise HubUnavailable(f"hub connection lost while {what}: {type(exc).__name__}: "
                                 f"{str(exc)[:200]}") from exc

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def list_tool_names(self) -> list[str]:
        try:
            return await self._list_tool_names()
        except SessionExpired:
            return await self._list_tool_names()  # once, on the new session; a second 404 is the caller's

    async def _list_tool_names(self) -> list[str]:
        conn = await self._session()
        assert conn.session is not None
        try:
            result = await conn.session.list_tools()
        except Exception as exc:
            await self._lost(conn, exc, "listing tools")
            raise
        return [tool.name for tool in result.tools]

    async def call(self, tool: str, arguments: dict[str, Any] | None = None) -> Any:
        """Call `tool` (our name, `<server>-<tool>`) and return its JSON result (or text when it is not JSON).

        A hub that names the tool differently (bare on mcphub May 2025) answers "unknown tool" / "Server not found"
        without running anything; the hub's name is then looked up once in its listing and the call sent again."""
        with observability.span(f"hub {tool}", **{"mcp.tool": tool, "mcp.hub_url": self.mcp_url}):
            try:
                return await self._call(tool, arguments)
            except ToolCallFailed as exc:
                if exc.status is not None or isinstance(exc, TransientError) or tool in self._hub_names \
                        or not _UNKNOWN_TOOL.search(str(exc)):
                    raise
                hub_name = resolve_tool_name(tool, await self.list_tool_names())
                if hub_name is None or hub_name == tool:
                    raise
                self._hub_names[tool] = hub_name
                logger.info("the hub names tool %s %r", tool, hub_name)
                return await self._call(tool, arguments)

    async def _call(self, tool: str, arguments: dict[str, Any] | None) -> Any:
        try:
            return await self._call_once(tool, arguments)
        except SessionExpired:
            # The hub never ran it (404 before dispatch): once more on a new session; a second 404 propagates
            # as HubUnavailable (transient) for the caller's retry to judge.
            return await self._call_once(tool, arguments)

    async def _call_once(self, tool: str, arguments: dict[str, Any] | None) -> Any:
        conn = await self._session()
        assert conn.session is not None
        self.calls[tool] += 1
        try:
            result = await conn.session.call_tool(self._hub_names.get(tool, tool), arguments or {},
                                                  read_timeout_seconds=self.call_timeout_seconds)
        except asyncio.CancelledError:
            # The session's task died under us (its cancel scope), not the flow: a lost connection, retryable.
            if not conn.alive and not _current_task_cancelling():
                raise HubUnavailable(f"hub connection lost while calling {tool}") from None
            raise
        except Exception as exc:
            await self._lost(conn, exc, f"calling {tool}")
            if isinstance(exc, MCPError) and exc.error.code not in (CONNECTION_CLOSED, REQUEST_TIMEOUT):
                # The hub passes an upstream's JSON-RPC refusal on as sent (e.g. -32602): a failed call, as the
                # `isError` text it used to be.
                raise classify_failure(tool, f"Error calling tool {tool}: {exc.error.message}") from exc
            raise
        text = "".join(getattr(part, "text", "") for part in getattr(result, "content", []) or [])
        if getattr(result, "is_error", False):
            failure = classify_failure(tool, text, getattr(result, "meta", None))
            if failure.status is None and not isinstance(failure, TransientError) and tool in self._answered:
                # A tool that answered earlier in this run and is now unknown: its server is reconnecting
                # behind the hub (hub restart, upstream crash) — transient, not a misconfiguration.
                raise TransientToolFailure(tool, f"temporarily unavailable behind the hub: {text.strip()[:200]}")
            raise failure
        self._answered.add(tool)
        structured = getattr(result, "structured_content", None)
        if structured is not None and not text:
            return structured
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return bool(task and task.cancelling())


@contextlib.asynccontextmanager
async def connect_hub(mcp_url: str, token: str | None = None, *, reconnect_seconds: float = 60.0,
                      connect_budget: float = 5.0, verify: ssl.SSLContext | bool = True) -> AsyncIterator[HubTools]:
    """A hub client for one flow run. The first connection fails fast (`connect_budget`) so a hub that was never
    started is one clear error; later losses are healed for up to `reconnect_seconds`."""
    hub = HubTools(mcp_url, token, reconnect_seconds=reconnect_seconds, verify=verify)
    await hub.connect(budget=connect_budget)
    try:
        yield hub
    finally:
        await hub.close()
