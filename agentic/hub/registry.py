"""The hub's state: servers from mcp_settings.json, their live upstreams, and the `<server>-<tool>` index.

Every change (add, update, delete, toggle, reload) is applied live — the upstream is started or stopped in the
hub's task group — then persisted, and MCP clients get `notifications/tools/list_changed`.
"""

from __future__ import annotations

import copy
import logging
import weakref
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx
import pydantic_core

from agentic.hub.config import (
    SHOW_MAX,
    ConfigInvalid,
    check_name,
    redact,
    undefined_variables,
    undefined_warning,
    validate,
)
from agentic.hub.failures import FailureMark
from agentic.hub.forward import Forwarder
from agentic.hub.limits import Limits
from agentic.hub.openapi import OpenAPIUpstream
from agentic.hub.store import load_settings, save_settings
from agentic.hub.upstream import MCPUpstream, Upstream, default_log_dir, error_result

log = logging.getLogger("agentic.hub")


class ServerNotFound(KeyError):
    pass


class ServerExists(ValueError):
    pass


class Hub:
    def __init__(self, settings_path: Path, log_dir: Path | None = None, limits: Limits | None = None,
                 openapi_transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings_path = Path(settings_path)
        self.limits = limits or Limits()
        self.openapi_transport = openapi_transport  # None: openapi servers are reached over the network
        self.settings = load_settings(self.settings_path)  # ConfigError on a malformed file: fail at start
        self.log_dir = log_dir or default_log_dir()
        self.upstreams: dict[str, Upstream] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._index: dict[str, tuple[Upstream, str]] = {}
        # tools/list answers per scope (None = every server): tools and wire JSON, built on first use and
        # dropped by `_reindex` — on every change, before the changing call's first await (#14).
        self._listings: dict[str | None, _Listing] = {}
        # MCP client connections to notify. Connections, not sessions: the SDK makes a ServerSession per request
        # (a weak set of those lost each one after its request), and a connection lives as long as its client.
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = anyio.Lock()
        self.separator = str(self.settings.get("systemConfig", {}).get("nameSeparator") or "-")
        self.forward = Forwarder(self)  # resources, prompts, completion, logging

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self, tg: anyio.abc.TaskGroup) -> None:
        self._tg = tg
        for name, config in self.settings["mcpServers"].items():
            try:
                config = validate(name, config, self.limits)
            except ConfigInvalid as exc:
                # A bad entry in the file is one broken server, never a hub that cannot start.
                self.upstreams[name] = _Broken(name, config, self._changed, self.log_dir, str(exc))
                continue
            if config.get("enabled", True):
                self._spawn(name, config)
        self._reindex()

    async def stop(self) -> None:
        with anyio.CancelScope(shield=True):
            for upstream in list(self.upstreams.values()):
                await upstream.stop()

    def _spawn(self, name: str, config: dict[str, Any]) -> Upstream:
        for var in undefined_variables(config):
            log.warning("hub server %s: %s", name, undefined_warning(var))
        if config["type"] == "openapi":
            upstream: Upstream = OpenAPIUpstream(name, config, self._changed, self.log_dir, limits=self.limits,
                                                 transport=self.openapi_transport)
        else:
            upstream = MCPUpstream(name, config, self._changed, self.log_dir)
            upstream.on_list_changed = self._list_changed
            upstream.on_resource_updated = self._resource_updated
        self.upstreams[name] = upstream
        self._reindex()
        assert self._tg is not None, "Hub.start() first"
        self._tg.start_soon(upstream.run)
        return upstream

    async def _stop(self, name: str) -> None:
        upstream = self.upstreams.pop(name, None)
        self._reindex()  # its tools are gone now, not once its process has exited
        if upstream is not None:
            await upstream.stop()

    # -- queries -----------------------------------------------------------------------------------------------
    def _changed(self) -> None:
        self._reindex()
        # A server came, went or changed: its prompts and resources with its tools.
        self._notify_all(_ALL_LIST_CHANGES)

    def _list_changed(self, method: str) -> None:
        self._notify_all((method,))

    def _resource_updated(self, server: str, uri: str) -> None:
        for connection in self.forward.watchers(server, uri):
            if self._tg is not None:
                self._tg.start_soon(_notify_updated, connection, uri)

    def _notify_all(self, methods: tuple[str, ...]) -> None:
        for connection in list(self._connections):
            if self._tg is not None:
                self._tg.start_soon(_notify_changed, connection, methods)

    def _reindex(self) -> None:
        index: dict[str, tuple[Upstream, str]] = {}
        for name, upstream in self.upstreams.items():
            if upstream.status != "connected" or not self.enabled(name):
                continue
            for tool in upstream.tools:
                if self._tool_enabled(name, tool["name"]):
                    index[f"{name}{self.separator}{tool['name']}"] = (upstream, tool["name"])
        self._index = index
        self._listings = {}

    def _tool_enabled(self, server: str, tool: str) -> bool:
        tools = (self.settings["mcpServers"].get(server) or {}).get("tools") or {}
        return (tools.get(tool) or {}).get("enabled", True) is not False

    def enabled(self, name: str) -> bool:
        return (self.settings["mcpServers"].get(name) or {}).get("enabled", True) is not False

    def names(self) -> list[str]:
        return list(self.settings["mcpServers"])

    def remember(self, session: Any) -> None:
        """Note the MCP client connection of `session` (a ServerSession) to tell it when the tools change."""
        connection = getattr(session, "_connection", None)
        if connection is not None:
            self._connections.add(connection)

    def list_tools(self, server: str | None = None) -> list[dict[str, Any]]:
        """Tool definitions (wire JSON) of every connected, enabled server, named `<server><sep><tool>` (the `/mcp`
        listing), or of one server as it names them (`/mcp/<server>`: mcphub's per-server names, issue #25).
        Cached until the next change: callers must not modify the list or its entries."""
        return self._listing(server).tools

    def listing_json(self, server: str | None = None) -> bytes:
        """`{"tools": [...]}` — the tools/list result of `list_tools(server)` — as the JSON bytes the MCP SDK
        would write (pydantic-core's serialiser), made once per change instead of once per request."""
        listing = self._listing(server)
        if listing.json is None:
            listing.json = pydantic_core.to_json({"tools": listing.tools})
        return listing.json

    def _listing(self, server: str | None) -> _Listing:
        listing = self._listings.get(server)
        if listing is None:
            listing = self._listings[server] = _Listing(self._build_listing(server))
        return listing

    def _build_listing(self, server: str | None, prefixed: bool | None = None) -> list[dict[str, Any]]:
        prefixed = server is None if prefixed is None else prefixed
        out = []
        for name, upstream in self.upstreams.items():
            if (server is not None and name != server) or upstream.status != "connected" or not self.enabled(name):
                continue
            for tool in upstream.tools:
                if not self._tool_enabled(name, tool["name"]):
                    continue
                entry = dict(tool)
                if prefixed:
                    entry["name"] = f"{name}{self.separator}{tool['name']}"
                out.append(entry)  # inputSchema as the upstream wrote it, `$schema` included (as mcphub does)
        return out

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, server: str | None = None
                        ) -> dict[str, Any]:
        """The upstream's CallToolResult (wire JSON); a failed call is an `isError` result, but a JSON-RPC error
        the upstream answered (e.g. -32602) is raised as its `MCPError`, to reach an MCP client as sent."""
        # /mcp/{server} lists the server's own names; the prefixed one is still accepted there (older clients).
        hit = self._index.get(f"{server}{self.separator}{name}") if server is not None else None
        if hit is None:
            hit = self._index.get(name)
        if hit is None or (server is not None and hit[0].name != server):
            shown = name if len(name) <= SHOW_MAX else f"{name[:SHOW_MAX]}... ({len(name)} characters)"
            return error_result(f"Unknown tool: {shown}", FailureMark(retryable=False))
        upstream, tool = hit
        return await upstream.call(tool, arguments)

    def describe(self, name: str, *, with_config: bool = True) -> dict[str, Any]:
        """mcphub's server info object, secrets redacted."""
        config = self.settings["mcpServers"].get(name)
        if config is None:
            raise ServerNotFound(name)
        upstream = self.upstreams.get(name)
        enabled = self.enabled(name)
        if upstream is None:
            status, error = "disconnected", None
        else:
            status, error = upstream.status, upstream.error
        info: dict[str, Any] = {
            "name": name,
            "owner": config.get("owner", "admin"),
            "status": status if enabled else "disconnected",
            "error": error,
            "tools": [{"name": t["name"], "description": t.get("description", ""),
                       "inputSchema": t.get("inputSchema", {}), "enabled": True}
                      for t in self._build_listing(name, prefixed=True)] if enabled else [],
            "prompts": [],
            "enabled": enabled,
            "type": config.get("type"),
        }
        if missing := undefined_variables(config):
            info["warnings"] = [undefined_warning(var) for var in missing]  # names only, never values
        if with_config:
            info["config"] = redact(config)
        return info

    def health(self) -> tuple[int, dict[str, Any]]:
        enabled = [n for n in self.names() if self.enabled(n)]
        connected = sum(1 for n in enabled if n in self.upstreams and self.upstreams[n].status == "connected")
        total = len(enabled)
        status = "healthy" if connected == total else "degraded"
        message = ("All enabled MCP servers are ready" if status == "healthy"
                   else f"{total - connected} of {total} enabled MCP servers are not connected")
        return 200, {"status": status, "message": message,
                     "servers": {"total": total, "connected": connected, "disconnected": total - connected}}

    def redacted_settings(self) -> dict[str, Any]:
        data = copy.deepcopy(self.settings)
        data["mcpServers"] = {n: redact(c) for n, c in data["mcpServers"].items()}
        data["users"] = [{k: ("******" if "password" in k.lower() else v) for k, v in u.items()}
                         for u in data.get("users", []) if isinstance(u, dict)]
        data["bearerKeys"] = [{**k, "token": "******"} for k in data.get("bearerKeys", []) if isinstance(k, dict)]
        routing = data.get("systemConfig", {}).get("routing")
        if isinstance(routing, dict) and routing.get("bearerAuthKey"):
            routing["bearerAuthKey"] = "******"
        return data

    def logs(self) -> list[dict[str, Any]]:
        out = []
        for name, upstream in self.upstreams.items():
            out.extend({"source": name, "type": "stderr", "message": line} for line in upstream.logs())
        return out

    # -- changes -----------------------------------------------------------------------------------------------
    async def _validate(self, name: str, config: dict[str, Any]) -> dict[str, Any]:
        """`validate` in a worker thread: checking a large inline OpenAPI document must not stall tool calls."""
        return await anyio.to_thread.run_sync(validate, name, config, self.limits)

    def _check_case_clash(self, name: str, renaming: str | None = None) -> None:
        """Names are case-sensitive (as in mcphub), but two that differ only in case would be a trap: tools
        `GitHub-get_issue` next to `github-get_issue`, and one stderr log file on a case-insensitive disk."""
        for other in self.settings["mcpServers"]:
            if other != name and other != renaming and other.casefold() == name.casefold():
                raise ConfigInvalid(f"`name` {name!r} clashes with the server {other!r}: names may not differ "
                                    f"only in letter case (use {other!r} to update that one)")

    async def add(self, name: str, config: dict[str, Any]) -> None:
        config = await self._validate(name, config)
        async with self._lock:
            if name in self.settings["mcpServers"]:
                raise ServerExists(name)
            self._check_case_clash(name)
            config.setdefault("enabled", True)
            self.settings["mcpServers"][name] = config
            self._save()
            if config["enabled"]:
                self._spawn(name, config)
        self._changed()

    async def update(self, name: str, config: dict[str, Any], new_name: str | None = None) -> None:
        if name not in self.settings["mcpServers"]:
            raise ServerNotFound(name)
        target = new_name if new_name is not None else name
        check_name(target, "newName" if new_name is not None else "name")
        config = await self._validate(target, config)
        async with self._lock:
            if name not in self.settings["mcpServers"]:
                raise ServerNotFound(name)
            if target != name and target in self.settings["mcpServers"]:
                raise ServerExists(target)
            self._check_case_clash(target, renaming=name)
            old = self.settings["mcpServers"].pop(name)
            config.setdefault("enabled", old.get("enabled", True))
            self.settings["mcpServers"][target] = config
            self._save()
            await self._stop(name)
            if config["enabled"]:
                self._spawn(target, config)
        self._changed()

    async def delete(self, name: str) -> None:
        async with self._lock:
            if name not in self.settings["mcpServers"]:
                raise ServerNotFound(name)
            del self.settings["mcpServers"][name]
            self._save()
            await self._stop(name)
        self._changed()

    async def toggle(self, name: str, enabled: bool) -> None:
        async with self._lock:
            config = self.settings["mcpServers"].get(name)
            if config is None:
                raise ServerNotFound(name)
            config["enabled"] = enabled
            self._save()
            if enabled and name not in self.upstreams:
                try:
                    self._spawn(name, await self._validate(name, config))
                except ConfigInvalid as exc:
                    self.upstreams[name] = _Broken(name, config, self._changed, self.log_dir, str(exc))
            elif not enabled:
                await self._stop(name)
        self._changed()

    async def reload(self, name: str) -> None:
        async with self._lock:
            config = self.settings["mcpServers"].get(name)
            if config is None:
                raise ServerNotFound(name)
            checked = await self._validate(name, config) if self.enabled(name) else None  # before stopping
            await self._stop(name)
            if checked is not None:
                self._spawn(name, checked)
        self._changed()

    async def update_system_config(self, changes: dict[str, Any]) -> None:
        async with self._lock:
            system = self.settings.setdefault("systemConfig", {})
            for key, value in changes.items():
                if isinstance(value, dict) and isinstance(system.get(key), dict):
                    system[key].update(value)
                else:
                    system[key] = value
            self.separator = str(system.get("nameSeparator") or "-")
            self._save()
        self._changed()

    def _save(self) -> None:
        save_settings(self.settings_path, self.settings)
        self._reindex()  # every settings change passes here before its first await: no stale tools/list


class _Listing:
    __slots__ = ("tools", "json")

    def __init__(self, tools: list[dict[str, Any]]) -> None:
        self.tools = tools
        self.json: bytes | None = None


class _Broken(Upstream):
    """A server whose stored config is invalid: shown as disconnected with the validation error."""

    def __init__(self, name: str, config: dict[str, Any], on_change: Any, log_dir: Path, error: str) -> None:
        super().__init__(name, config if isinstance(config, dict) else {}, on_change, log_dir)
        self.status, self.error = "disconnected", f"invalid config: {error}"

    async def run(self) -> None:
        return

    async def stop(self) -> None:
        return

    async def call(self, tool: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
        return error_result(self.error or "invalid config", FailureMark(retryable=False))


_ALL_LIST_CHANGES = ("notifications/tools/list_changed", "notifications/prompts/list_changed",
                     "notifications/resources/list_changed")


async def _notify_changed(connection: Any, methods: tuple[str, ...]) -> None:
    from mcp.server.session import ServerSession

    try:
        with anyio.move_on_after(2):
            # Without a request: the notification goes out on the connection's standalone stream.
            session = ServerSession(None, connection)  # type: ignore[arg-type]
            senders = {"notifications/tools/list_changed": session.send_tool_list_changed,
                       "notifications/prompts/list_changed": session.send_prompt_list_changed,
                       "notifications/resources/list_changed": session.send_resource_list_changed}
            for method in methods:
                await senders[method]()
    except Exception:  # noqa: BLE001 - a gone client is not our problem
        pass


async def _notify_updated(connection: Any, uri: str) -> None:
    from mcp.server.session import ServerSession

    try:
        with anyio.move_on_after(2):
            await ServerSession(None, connection).send_resource_updated(uri)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a gone client is not our problem
        pass
