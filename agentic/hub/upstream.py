"""One upstream server the hub forwards to: its state machine, and the MCP kinds (stdio, sse, streamable-http).

Why a persistent session: opening an upstream MCP session per call costs ~30 ms (FastMCP `create_proxy`); one
long-lived `ClientSession` per upstream, shared by every hub client, costs a few hundred microseconds. Tool calls
are forwarded as raw JSON-RPC params/results (no pydantic round trip) — see `_raw_request`.

Lifecycle: `run()` connects, lists tools, then waits for the connection to end (stdio child exits, stream closes,
a call reports the transport dead) and reconnects with exponential backoff (1 s .. 30 s). Failures never escape:
they become `status="disconnected"` and a readable `error` (with the tail of a stdio child's stderr).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from agentic.hub.config import expand, scrub, secret_values
from agentic.hub.egress import EgressPolicy
from agentic.hub.failures import FailureMark, failure_meta
from agentic.hub.relay import CURRENT, Relay

log = logging.getLogger("agentic.hub")

# An upstream's list changes the hub passes on as they are (a tool change is the hub's own: it re-lists first).
RELAYED_LIST_CHANGES = frozenset({"notifications/prompts/list_changed", "notifications/resources/list_changed"})
DEFAULT_CONNECT_TIMEOUT = 60.0   # first `npx -y` of a package downloads it: be patient (mcphub: INIT_TIMEOUT 300 s)
DEFAULT_CALL_TIMEOUT = 60.0      # mcphub's options.timeout default (60000 ms)
MAX_BACKOFF = 30.0


def describe(exc: BaseException) -> str:
    """The innermost useful message of an exception (task groups wrap transport errors in ExceptionGroups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip()
    if isinstance(exc, TimeoutError) and not text:
        text = "timed out"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Upstream:
    """Common state of an upstream server; subclasses implement `_serve_once` and `call`."""

    def __init__(self, name: str, config: dict[str, Any], on_change: Callable[[], None], log_dir: Path) -> None:
        self.name = name
        self.config = config
        self.status = "connecting"
        self.error: str | None = None
        self.tools: list[dict[str, Any]] = []   # upstream tool definitions (unprefixed names), wire JSON
        # The upstream's ServerCapabilities as wire JSON (`{"tools": {...}, "resources": {...}}`) while connected.
        self.capabilities: dict[str, Any] = {}
        # Told of the upstream's prompts/resources list_changed notifications (the hub tells its clients).
        self.on_list_changed: Callable[[str], None] | None = None
        # Told of notifications/resources/updated: (this server's name, the URI).
        self.on_resource_updated: Callable[[str, str], None] | None = None
        self._on_change = on_change
        self._log_dir = log_dir
        self._secrets = secret_values(config)
        self._scope: anyio.CancelScope | None = None
        self._wake = anyio.Event()
        self._stopped = anyio.Event()
        options = config.get("options") if isinstance(config.get("options"), dict) else {}
        self.connect_timeout = _seconds(options.get("connectTimeout") or options.get("initTimeout"),
                                        DEFAULT_CONNECT_TIMEOUT)
        self.call_timeout = _seconds(options.get("timeout"), DEFAULT_CALL_TIMEOUT)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, serve, reconnect with backoff, until `stop()`."""
        attempt = 0
        with anyio.CancelScope() as self._scope:
            try:
                while True:
                    self._set("connecting", None)
                    started = time.monotonic()
                    try:
                        await self._serve_once()
                        reason = self._closed_reason()
                    except Exception as exc:  # noqa: BLE001 - any upstream failure is a status, never a crash
                        reason = describe(exc)
                    self.tools, self.capabilities = [], {}
                    self._set("disconnected", self._explain(reason))
                    if time.monotonic() - started > 60:
                        attempt = 0
                    delay = min(MAX_BACKOFF, 2.0 ** attempt)
                    attempt += 1
                    log.warning("hub server %s disconnected (%s); retry in %.0f s", self.name, self.error, delay)
                    with anyio.move_on_after(delay):
                        await self._wake.wait()
                    self._wake = anyio.Event()
            finally:
                self.tools, self.capabilities = [], {}
                self._stopped.set()

    def reconnect(self) -> None:
        """Drop the current connection (or skip the backoff wait) and connect again now."""
        self._wake.set()

    async def stop(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
            with anyio.move_on_after(10):
                await self._stopped.wait()

    def _set(self, status: str, error: str | None) -> None:
        changed = (status, error) != (self.status, self.error)
        self.status, self.error = status, error
        if changed:
            self._on_change()

    def _explain(self, reason: str) -> str:
        return scrub(reason, self._secrets)

    def _closed_reason(self) -> str:
        return "the connection was closed by the server"

    async def _serve_once(self) -> None:
        raise NotImplementedError

    async def call(self, tool: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
        """Forward one tools/call; return the CallToolResult as wire JSON (errors as `isError` results).
        A JSON-RPC error of the upstream (e.g. -32602 invalid params) is raised as the same `MCPError`."""
        raise NotImplementedError

    async def request(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        """Forward any other request (resources/read, prompts/get, ...); the result as wire JSON.
        Every failure is an `MCPError`: the upstream's own error as it sent it, or one saying why it failed."""
        raise MCPError(types.METHOD_NOT_FOUND, "Method not found", data=method)

    def logs(self) -> list[str]:
        return []


def _seconds(ms: Any, default: float) -> float:
    try:
        value = float(ms) / 1000.0
    except (TypeError, ValueError):
        return default
    return value if value > 0 and math.isfinite(value) else default


def error_result(text: str, mark: FailureMark | None = None) -> dict[str, Any]:
    """A failed call's result; `mark` says in `_meta` whether sending it again may succeed (failures.py)."""
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": True}
    if mark is not None:
        result["_meta"] = failure_meta(mark)
    return result


class _EOFWatch:
    """Read-stream wrapper that sets `closed` when the transport ends (stdio child exit, stream closed)."""

    def __init__(self, inner: Any, closed: anyio.Event) -> None:
        self._inner = inner
        self._closed = closed

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._closed.set()
            raise

    def __aiter__(self) -> _EOFWatch:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._closed.set()
        await self._inner.aclose()

    async def __aenter__(self) -> _EOFWatch:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class MCPUpstream(Upstream):
    """stdio, sse and streamable-http servers: one persistent `ClientSession`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session: ClientSession | None = None
        self._stderr_path: Path | None = None
        self._last_stream_error: str | None = None
        self._closed: anyio.Event | None = None
        self._in_flight: list[Relay] = []   # the client calls now being served (see relay_for)

    @contextlib.asynccontextmanager
    async def _transport(self) -> AsyncIterator[tuple[Any, Any]]:
        kind = self.config["type"]
        if kind == "stdio":
            env = {k: str(v) for k, v in expand(self.config.get("env") or {}).items()}
            if "NODE_OPTIONS" in env:  # the sandbox's preload, named by a client on another filesystem
                from agentic.sandbox.github.redirect import local_preload

                env["NODE_OPTIONS"] = local_preload(env["NODE_OPTIONS"])
            params = StdioServerParameters(command=expand(self.config["command"]),
                                           args=[expand(a) for a in self.config.get("args", [])],
                                           env=env, cwd=self.config.get("cwd"))
            self._log_dir.mkdir(parents=True, exist_ok=True)
            self._stderr_path = self._log_dir / f"{self.name}.stderr.log"
            # O_APPEND file: the child writes its stderr there; GET /api/logs and `error` read its tail.
            with open(self._stderr_path, "a", encoding="utf-8") as errlog:
                errlog.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {params.command}\n")
                errlog.flush()
                async with stdio_client(params, errlog=errlog) as streams:
                    yield streams
            return
        headers = {k: str(v) for k, v in expand(self.config.get("headers") or {}).items()}
        url = expand(self.config["url"])
        # Every address the name resolves to now, not only the literal host checked at registration.
        await EgressPolicy.from_env().check_resolved(url)
        if kind == "sse":
            async with sse_client(url, headers=headers or None, timeout=self.connect_timeout) as streams:
                yield streams
            return
        async with (
            create_mcp_http_client(headers=headers or None,
                                   timeout=httpx2.Timeout(30.0, read=300.0)) as http,
            streamable_http_client(url, http_client=http) as streams,
        ):
            yield streams

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):  # e.g. a stdio server printing non-JSON-RPC lines on stdout
            self._last_stream_error = describe(message)[:300]
            return
        method = getattr(message, "method", None)
        if method in RELAYED_LIST_CHANGES and self.on_list_changed is not None:
            self.on_list_changed(method)
        if method == "notifications/resources/updated" and self.on_resource_updated is not None:
            uri = getattr(getattr(message, "params", None), "uri", None)
            if uri is not None:
                self.on_resource_updated(self.name, str(uri))
        if method == "notifications/tools/list_changed" and self.session is not None:
            try:
                self.tools = await _list_tools(self.session)
            except Exception as exc:  # noqa: BLE001
                log.warning("hub server %s: tools refresh failed: %s", self.name, describe(exc))
            self._on_change()

    # -- the upstream's messages that belong to a client's call (agentic.hub.relay) --------------------------
    def relay_for(self) -> Relay | None:
        """The client call an upstream message belongs to: the one whose context it arrived in (streamable HTTP),
        else the only call in flight on this upstream."""
        relay = CURRENT.get()
        if relay is not None:
            return relay
        return self._in_flight[0] if len(self._in_flight) == 1 else None

    async def _on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        relay = self.relay_for()
        if relay is not None:
            await relay.log(params)

    async def _relay_request(self, method: str, params: Any) -> Any:
        relay = self.relay_for()
        if relay is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message=(
                f"{method} reached the hub outside a client's call (or during several): no client to ask"))
        return await relay.request(method, params)

    async def _on_sampling(self, context: Any, params: types.CreateMessageRequestParams) -> Any:
        return await self._relay_request("sampling/createMessage", params)

    async def _on_elicitation(self, context: Any, params: types.ElicitRequestParams) -> Any:
        return await self._relay_request("elicitation/create", params)

    async def _on_roots(self, context: Any) -> Any:
        return await self._relay_request("roots/list", None)

    @contextlib.contextmanager
    def _serving(self) -> Any:
        """Marks the current client call (if any) in flight here; yields its progress callback (or None)."""
        relay = CURRENT.get()
        if relay is None:
            yield None
            return
        self._in_flight.append(relay)
        try:
            yield relay.progress if relay.progress_token is not None else None
        finally:
            self._in_flight.remove(relay)

    async def _serve_once(self) -> None:
        self._last_stream_error = None
        closed = self._closed = anyio.Event()
        async with contextlib.AsyncExitStack() as stack:
            # Enter the transport and session outside the timeout's cancel scope (scopes must nest with the
            # task groups these contexts open); only the handshake is timed.
            read, write = await stack.enter_async_context(self._transport())
            session = await stack.enter_async_context(
                ClientSession(_EOFWatch(read, closed), write, read_timeout_seconds=self.call_timeout,
                              message_handler=self._on_message, logging_callback=self._on_log,
                              sampling_callback=self._on_sampling, elicitation_callback=self._on_elicitation,
                              list_roots_callback=self._on_roots))
            try:
                with anyio.fail_after(self.connect_timeout):
                    await session.initialize()
                    tools = await _list_tools(session)
            except TimeoutError:
                raise TimeoutError(f"no answer to initialize within {self.connect_timeout:g} s") from None
            capabilities = session.server_capabilities
            self.capabilities = (capabilities.model_dump(by_alias=True, mode="json", exclude_none=True)
                                 if capabilities is not None else {})
            self.session, self.tools = session, tools
            self._set("connected", None)
            log.info("hub server %s connected: %d tools", self.name, len(tools))
            try:
                async with anyio.create_task_group() as tg:
                    async def wake() -> None:
                        await self._wake.wait()
                        tg.cancel_scope.cancel()
                    tg.start_soon(wake)
                    await closed.wait()
                    tg.cancel_scope.cancel()
            finally:
                self.session = None

    def _closed_reason(self) -> str:
        if self.config.get("type") == "stdio":
            return "the server process exited (its stdout closed); restarting it"
        return super()._closed_reason()

    def _explain(self, reason: str) -> str:
        parts = [reason]
        if self._last_stream_error:
            parts.append(f"invalid output on stdout: {self._last_stream_error}")
        tail = self._stderr_tail(5)
        if tail:
            parts.append("stderr: " + " | ".join(tail))
        return scrub("; ".join(parts), self._secrets)[:2000]

    def _stderr_tail(self, lines: int) -> list[str]:
        if self._stderr_path is None or not self._stderr_path.exists():
            return []
        with open(self._stderr_path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 8192))
            text = fh.read().decode("utf-8", "replace")
        text = text.rsplit("\n--- ", 1)[-1]  # only the current run
        out = [line.strip() for line in text.splitlines()[1:] if line.strip() and "npm warn" not in line]
        return out[-lines:]

    def logs(self) -> list[str]:
        if self._stderr_path is None or not self._stderr_path.exists():
            return []
        with open(self._stderr_path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 65536))
            return [scrub(x, self._secrets) for x in fh.read().decode("utf-8", "replace").splitlines()]

    async def call(self, tool: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
        session = self.session
        if session is None:
            return error_result(f"Server '{self.name}' is not connected"
                                + (f": {self.error}" if self.error else ""), FailureMark(retryable=True))
        try:
            with self._serving() as on_progress:
                return await _raw_request(session, "tools/call", _call_params(tool, arguments), self.call_timeout,
                                          fallback=lambda: _typed_call(session, tool, arguments, self.call_timeout),
                                          on_progress=on_progress)
        except Exception as exc:
            if _from_upstream(exc):  # a protocol error of the server (e.g. -32602): the client gets it as sent
                raise
            self._after_failure(exc)
            # The server went away or did not answer in time (a protocol refusal was raised above): retryable.
            return error_result(f"Error calling tool {tool} on server '{self.name}': {describe(exc)}",
                                FailureMark(retryable=True))

    async def request(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        session = self.session
        if session is None:
            raise MCPError(types.INTERNAL_ERROR, f"Server '{self.name}' is not connected"
                           + (f": {self.error}" if self.error else ""))
        try:
            with self._serving() as on_progress:
                return await _raw_request(session, method, params, self.call_timeout, on_progress=on_progress)
        except Exception as exc:
            if _from_upstream(exc):
                raise
            self._after_failure(exc)
            raise MCPError(types.INTERNAL_ERROR, f"Error forwarding {method} to server '{self.name}': "
                           f"{describe(exc)}") from None

    def _after_failure(self, exc: BaseException) -> None:
        if self._closed is not None and not self._closed.is_set() and _looks_dead(exc):
            self.reconnect()


def _from_upstream(exc: BaseException) -> bool:
    """An error response the upstream sent — not the SDK's own for a closed connection or a timeout."""
    return isinstance(exc, MCPError) and exc.code not in (types.CONNECTION_CLOSED, types.REQUEST_TIMEOUT)


def _looks_dead(exc: BaseException) -> bool:
    text = describe(exc).lower()
    return any(w in text for w in ("closed", "connect", "session not found", "404", "broken", "eof"))


async def _list_tools(session: ClientSession) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        from mcp_types import PaginatedRequestParams

        result = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
        tools.extend(t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in result.tools)
        cursor = result.next_cursor
        if not cursor:
            return tools


def _call_params(tool: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": tool}
    if arguments is not None:
        params["arguments"] = arguments
    return params


async def _typed_call(session: ClientSession, tool: str, arguments: dict[str, Any] | None,
                      timeout: float) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments, read_timeout_seconds=timeout)
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


async def _raw_request(session: ClientSession, method: str, params: dict[str, Any] | None, timeout: float,
                       fallback: Callable[[], Awaitable[dict[str, Any]]] | None = None,
                       on_progress: Callable[..., Awaitable[None]] | None = None) -> dict[str, Any]:
    """One request as raw JSON: skips building/validating pydantic models both ways (the hub passes results
    through unchanged, like mcphub). If the SDK's internals move: `fallback` (tools/call), else an error."""
    dispatcher = getattr(session, "_dispatcher", None)
    stamp = getattr(session, "_stamp", None)
    if dispatcher is None or stamp is None:
        if fallback is None:
            raise RuntimeError("the MCP SDK's session internals moved; cannot forward " + method)
        return await fallback()
    data: dict[str, Any] = {"method": method, "params": params}
    opts: dict[str, Any] = {"timeout": timeout}
    if on_progress is not None:  # the dispatcher puts its own progressToken (the request id) in params._meta
        opts["on_progress"] = on_progress
    stamp(data, opts)
    return await dispatcher.send_raw_request(method, data["params"], opts)


def default_log_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"agentic-hub-{os.getpid()}"
